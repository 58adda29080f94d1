package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/google/uuid"
	"github.com/spf13/cobra"
)

// roleCmd builds a role's command group; each subcommand gets an open session.
func roleCmd(g *globals, name, short string, subs ...func(*globals, *clientFlags) *cobra.Command) *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{Use: name, Short: short}
	f.register(cmd, name)
	for _, sub := range subs {
		cmd.AddCommand(sub(g, f))
	}
	return cmd
}

func run(g *globals, f *clientFlags, fn func(cmd *cobra.Command, s *session, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		s, err := f.open(cmd, g)
		if err != nil {
			return err
		}
		defer s.Close()
		return fn(cmd, s, args)
	}
}

func newPatientCmd(g *globals) *cobra.Command {
	return roleCmd(g, "patient", "Act as a patient: records, grants, audit trail, research consent, erasure",
		whoamiCmd, uploadCmd, recordsCmd, ownHistoryCmd, readCmd, grantCmd, revokeCmd, grantsCmd, auditCmd, researchCmd, eraseCmd, delegateCmd, disclosuresCmd)
}

func newClinicianCmd(g *globals) *cobra.Command {
	return roleCmd(g, "clinician", "Act as a clinician: granted patients, histories, new versions, emergency access",
		whoamiCmd, patientsCmd, patientRecordsCmd, historyCmd, readCmd, appendCmd, emergencyCmd)
}

func newManufacturerCmd(g *globals) *cobra.Command {
	return roleCmd(g, "manufacturer", "Act as a manufacturer: published cohorts, downloads, aggregate queries",
		whoamiCmd, cohortsCmd, downloadCmd, queryCmd, feasibilityCmd, budgetCmd, disclosuresCmd)
}

func newAnonymizerCmd(g *globals) *cobra.Command {
	return roleCmd(g, "anonymizer", "Act as the anonymiser: build and publish cohorts from consenting patients",
		whoamiCmd, cohortsCmd, publishCmd)
}

func publishCmd(g *globals, f *clientFlags) *cobra.Command {
	var req client.CohortRequest
	var definition string
	cmd := &cobra.Command{Use: "publish", Short: "Build a cohort from consenting patients, check its privacy model and publish it", Args: cobra.NoArgs,
		Long: `publish builds a cohort from the records of the patients whose research consent covers
--purpose, anonymises it and publishes it: the files go to the anonymiser's store, the hashes,
parameters, consent snapshot and query hash to the ledger. Without --definition a cohort holds
age, sex, postal code and one diagnosis of every consenting patient who has them; with it, the
patients the definition's criteria select and its clinical variables (docs/cohort-extract.md).
k, l and t apply to all quasi-identifiers together; l and t protect the sensitive variables.`,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			if definition != "" {
				data, err := readInput(definition)
				if err != nil {
					return err
				}
				req.Definition = data
			}
			co, err := s.c.PublishCohort(cmd.Context(), req)
			if err != nil {
				return err
			}
			p := co.Publication
			return s.print(co, []string{"COHORT", "ROWS", "SUPPRESSED", "MODELS", "DATASET SHA-256"}, [][]string{{p.ID, strconv.Itoa(p.RowCount), strconv.Itoa(p.SuppressedRows), strings.Join(p.Models, ","), p.DatasetHash}})
		})}
	cmd.Flags().StringVar(&req.ID, "id", "", "cohort ID (default: a random UUID)")
	cmd.Flags().StringVar(&req.Purpose, "purpose", "", "research purpose the patients consented to")
	cmd.Flags().IntVar(&req.K, "k", 5, "k of k-anonymity")
	cmd.Flags().IntVar(&req.L, "l", 0, "distinct l-diversity of the diagnosis, or of each sensitive variable of the definition (0: none)")
	cmd.Flags().Float64Var(&req.T, "t", 0, "equal-distance t-closeness of each sensitive variable of the definition (0: none)")
	cmd.Flags().Float64Var(&req.SuppressionLimit, "suppression", 0.05, "share of rows that may be suppressed")
	cmd.Flags().StringVar(&definition, "definition", "", "extract definition (JSON file, - for stdin): the cohort's criteria and clinical variables (docs/cohort-extract.md)")
	cmd.MarkFlagRequired("purpose")
	return cmd
}

func whoamiCmd(g *globals, f *clientFlags) *cobra.Command {
	return &cobra.Command{Use: "whoami", Short: "Show your pseudonym, organisation and role", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			me, err := s.c.Me(cmd.Context())
			if err != nil {
				return err
			}
			return s.print(me, []string{"PSEUDONYM", "MSP", "ROLE"}, [][]string{{me.ID, me.MSP, string(me.Role)}})
		})}
}

func uploadCmd(g *globals, f *clientFlags) *cobra.Command {
	var file, mediaType, category, id string
	var data []byte
	cmd := &cobra.Command{Use: "upload", Short: "Upload a record (FHIR JSON or a document) of your own", Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) (err error) {
			if category != "" && !slices.Contains(model.Categories, category) {
				return fmt.Errorf("--category %q: want one of %s", category, categoryList)
			}
			data, err = readContent(file, mediaType, cmd.Flags().Changed("type"))
			if err == nil && mediaType != fhir.MediaType && category == "" {
				err = fmt.Errorf("a document needs --category, one of %s", categoryList)
			}
			return err
		},
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			me, err := s.c.Me(cmd.Context())
			if err != nil {
				return err
			}
			recs, err := s.c.UploadAll(cmd.Context(), client.Upload{Owner: me.ID, Category: category, ID: id, MediaType: mediaType, Data: data})
			if err != nil {
				return err
			}
			// A Bundle stores one record per entry.
			var rows [][]string
			for _, rec := range recs {
				rows = append(rows, []string{rec.ID, rec.Category, strconv.Itoa(rec.Versions), rec.LatestHash})
			}
			var out any = recs
			if len(recs) == 1 {
				out = recs[0]
			}
			return s.print(out, []string{"RECORD", "CATEGORY", "VERSION", "HASH"}, rows)
		})}
	cmd.Flags().StringVar(&file, "file", "", "the content (- for stdin)")
	cmd.Flags().StringVar(&mediaType, "type", fhir.MediaType, "media type of the content")
	cmd.Flags().StringVar(&category, "category", "", "record category, one of "+categoryList+" (derived from FHIR resources; required for documents)")
	cmd.Flags().StringVar(&id, "id", "", "record ID (default: a random UUID)")
	cmd.MarkFlagRequired("file")
	return cmd
}

func recordRows(recs []model.Record) [][]string {
	var rows [][]string
	for _, r := range recs {
		rows = append(rows, []string{r.ID, r.Category, strconv.Itoa(r.Versions), short(r.CreatedBy.ID) + " (" + string(r.CreatedBy.Role) + ")", day(r.UpdatedAt)})
	}
	return rows
}

// categoryList is the ledger's category vocabulary for flag help.
var categoryList = strings.Join(model.Categories, ", ")

var recordHeader = []string{"RECORD", "CATEGORY", "VERSIONS", "ADDED BY", "UPDATED"}

func recordsCmd(g *globals, f *clientFlags) *cobra.Command {
	var category string
	cmd := &cobra.Command{Use: "records", Short: "List your records", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			me, err := s.c.Me(cmd.Context())
			if err != nil {
				return err
			}
			page, err := s.c.PatientRecords(cmd.Context(), me.ID, category, client.Page{Size: 200})
			if err != nil {
				return err
			}
			return s.list(page, recordHeader, recordRows(page.Records), "no records")
		})}
	cmd.Flags().StringVar(&category, "category", "", "only this category: "+categoryList)
	return cmd
}

func patientRecordsCmd(g *globals, f *clientFlags) *cobra.Command {
	return &cobra.Command{Use: "records <patient>", Short: "List a patient's records you may read", Args: cobra.ExactArgs(1),
		RunE: run(g, f, func(cmd *cobra.Command, s *session, args []string) error {
			page, err := s.c.PatientRecords(cmd.Context(), args[0], "", client.Page{Size: 200})
			if err != nil {
				return err
			}
			return s.list(page, recordHeader, recordRows(page.Records), "no records you may read")
		})}
}

func readCmd(g *globals, f *clientFlags) *cobra.Command {
	var version int
	var purpose, out string
	cmd := &cobra.Command{Use: "read <record>", Short: "Read a record's content (audited)", Args: cobra.ExactArgs(1),
		// A read is audited: make sure its content can be written before reading.
		PreRunE: func(*cobra.Command, []string) error { return checkOutput(out) },
		RunE: run(g, f, func(cmd *cobra.Command, s *session, args []string) error {
			c, err := s.c.Content(cmd.Context(), args[0], version, purpose)
			if err != nil {
				return err
			}
			if out != "" || !s.json {
				if err := writeOutput(cmd, out, c.Data); err != nil {
					return err
				}
				if out != "" && out != "-" {
					fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: record %s version %d, %s, %d bytes\n", out, args[0], c.Version, c.MediaType, len(c.Data))
				}
				return nil
			}
			return s.print(c, nil, nil)
		})}
	cmd.Flags().IntVar(&version, "version", 0, "version to read (default: the latest)")
	cmd.Flags().StringVar(&purpose, "purpose", "", "purpose of use (HL7 code, e.g. TREAT)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the content to this file")
	return cmd
}

func grantCmd(g *globals, f *clientFlags) *cobra.Command {
	var to, org, purpose, forPatient string
	var categories, records []string
	var write bool
	var days int
	cmd := &cobra.Command{Use: "grant", Short: "Let a clinician (or a whole organisation's clinicians) read your records", Args: cobra.NoArgs,
		Long: "The grant is signed here with your own key; the server never sees it.",
		PreRunE: func(*cobra.Command, []string) error {
			if (to == "") == (org == "") {
				return errors.New("say whom to grant: --to <pseudonym> or --org <MSP ID>")
			}
			if len(categories) == 0 && len(records) == 0 {
				return fmt.Errorf("say what to grant: --category (any of %s) or --record <id>", categoryList)
			}
			for _, c := range categories {
				if !slices.Contains(model.Categories, c) {
					return fmt.Errorf("--category %q: want any of %s", c, categoryList)
				}
			}
			if days < 0 {
				return errors.New("--days must not be negative")
			}
			return nil
		},
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			req := model.GrantRequest{ID: "g-" + uuid.NewString(), Patient: forPatient, Grantee: model.Grantee{ID: to, MSP: org}, Actions: []string{model.ActionRead},
				Categories: categories, RecordIDs: records, Purpose: purpose}
			if write {
				req.Actions = append(req.Actions, model.ActionAppend)
			}
			if days > 0 {
				u := time.Now().Add(time.Duration(days) * 24 * time.Hour)
				req.ValidUntil = &u
			}
			gr, rc, err := s.c.Grant(cmd.Context(), req)
			if err != nil {
				return err
			}
			return s.print(gr, grantHeader, append(grantRows([]model.Grant{*gr}, lookupNames(cmd.Context(), s.c, gr.Grantee.ID)), []string{"", "", "", "", "", "tx " + short(rc.TransactionID)}))
		})}
	cmd.Flags().StringVar(&to, "to", "", "the grantee's pseudonym")
	cmd.Flags().StringVar(&org, "org", "", "grant to every clinician of this organisation (MSP ID) instead")
	cmd.Flags().StringSliceVar(&categories, "category", nil, "categories granted, any of "+categoryList+"; demographics shares your name, birth date, sex and address")
	cmd.Flags().StringSliceVar(&records, "record", nil, "records granted, instead of categories")
	cmd.Flags().BoolVar(&write, "append", false, "also let them add versions and records")
	cmd.Flags().StringVar(&purpose, "purpose", "TREAT", "purpose of use: TREAT, CAREMGT, PATRQT, HRESCH, CLINTRCH, PUBHLTH")
	cmd.Flags().IntVar(&days, "days", 0, "days the grant lasts (default: until revoked)")
	cmd.Flags().StringVar(&forPatient, "for", "", "grant on behalf of this patient, who named you their delegate")
	return cmd
}

func delegateCmd(g *globals, f *clientFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "delegate", Short: "Name, list or remove people who may manage your grants and research consent"}
	var days int
	add := &cobra.Command{Use: "add <pseudonym>", Short: "Name a delegate (signed with your own key)", Args: cobra.ExactArgs(1),
		RunE: run(g, f, func(cmd *cobra.Command, s *session, args []string) error {
			req := model.DelegateRequest{Delegate: args[0]}
			if days > 0 {
				u := time.Now().Add(time.Duration(days) * 24 * time.Hour)
				req.ValidUntil = &u
			}
			d, _, err := s.c.AddDelegate(cmd.Context(), req)
			if err != nil {
				return err
			}
			return s.print(d, []string{"DELEGATE", "UNTIL"}, [][]string{{d.Delegate, until(d.ValidUntil)}})
		})}
	add.Flags().IntVar(&days, "days", 0, "days the delegation lasts (default: until removed)")
	remove := &cobra.Command{Use: "remove <pseudonym>", Short: "Withdraw a delegation (signed with your own key)", Args: cobra.ExactArgs(1),
		RunE: run(g, f, func(cmd *cobra.Command, s *session, args []string) error {
			if _, err := s.c.RemoveDelegate(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(s.out, "removed delegate %s\n", args[0])
			return nil
		})}
	list := &cobra.Command{Use: "list", Short: "Your delegates", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			page, err := s.c.Delegates(cmd.Context(), client.Page{Size: 200})
			if err != nil {
				return err
			}
			var rows [][]string
			for _, d := range page.Delegates {
				rows = append(rows, []string{d.Delegate, until(d.ValidUntil), day(d.CreatedAt)})
			}
			return s.list(page, []string{"DELEGATE", "UNTIL", "SINCE"}, rows, "no delegates")
		})}
	cmd.AddCommand(add, remove, list)
	return cmd
}

var grantHeader = []string{"GRANT", "GRANTEE", "SCOPE", "ACTIONS", "PURPOSE", "UNTIL", "STATUS"}

func grantRows(gs []model.Grant, n names) [][]string {
	var rows [][]string
	for _, gr := range gs {
		grantee := n.person(gr.Grantee.ID)
		if gr.Emergency {
			grantee = n.person(gr.GrantedBy.ID)
		}
		if gr.Grantee.ID == "" && !gr.Emergency {
			grantee = "all clinicians of " + n.org(gr.Grantee.MSP)
		}
		scope := strings.Join(gr.Categories, ",")
		if len(gr.RecordIDs) > 0 {
			scope = "records " + strings.Join(gr.RecordIDs, ",")
		}
		status := gr.Status
		if gr.Emergency {
			status += " (EMERGENCY: " + gr.Reason + ")"
		}
		rows = append(rows, []string{gr.ID, grantee, scope, strings.Join(gr.Actions, ","), gr.Purpose, until(gr.ValidUntil), status})
	}
	return rows
}

func revokeCmd(g *globals, f *clientFlags) *cobra.Command {
	return &cobra.Command{Use: "revoke <grant>", Short: "Revoke a grant (signed with your own key)", Args: cobra.ExactArgs(1),
		RunE: run(g, f, func(cmd *cobra.Command, s *session, args []string) error {
			gr, _, err := s.c.RevokeGrant(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return s.print(gr, grantHeader, grantRows([]model.Grant{*gr}, lookupNames(cmd.Context(), s.c, gr.Grantee.ID, gr.GrantedBy.ID)))
		})}
}

func grantsCmd(g *globals, f *clientFlags) *cobra.Command {
	var active bool
	cmd := &cobra.Command{Use: "grants", Short: "Who may see what: your grants and emergency accesses", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			page, err := s.c.Grants(cmd.Context(), "", active, client.Page{Size: 200})
			if err != nil {
				return err
			}
			ids := make([]string, 0, len(page.Grants))
			for _, gr := range page.Grants {
				ids = append(ids, gr.Grantee.ID, gr.GrantedBy.ID)
			}
			return s.list(page, grantHeader, grantRows(page.Grants, lookupNames(cmd.Context(), s.c, ids...)), "no grants")
		})}
	cmd.Flags().BoolVar(&active, "active", false, "only grants in force now")
	return cmd
}

func auditCmd(g *globals, f *clientFlags) *cobra.Command {
	return &cobra.Command{Use: "audit", Short: "Every access to your records, and every refused attempt: who, what, when, under which grant", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			page, err := s.c.AccessLog(cmd.Context(), "", client.Page{Size: 200})
			if err != nil {
				return err
			}
			ids := make([]string, 0, len(page.Entries))
			for _, e := range page.Entries {
				ids = append(ids, e.Accessor.ID)
			}
			n := lookupNames(cmd.Context(), s.c, ids...)
			var rows [][]string
			for _, e := range page.Entries {
				basis := e.Basis
				switch e.Basis {
				case model.BasisEmergency:
					basis = "EMERGENCY"
				case model.BasisRefused:
					basis = "REFUSED: " + e.Reason
				}
				// Whether the accessor's own key signed for the access, or only their
				// organisation's gateway vouches for it.
				rows = append(rows, []string{day(e.AccessedAt), n.person(e.Accessor.ID) + " (" + string(e.Accessor.Role) + ", " + n.org(e.Accessor.MSP) + ")", e.RecordID, strconv.Itoa(e.Version), e.Action, basis, e.GrantID, e.Assurance})
			}
			return s.list(page, []string{"WHEN", "WHO", "RECORD", "VERSION", "ACTION", "BASIS", "GRANT", "SIGNED"}, rows, "no accesses recorded")
		})}
}

func researchCmd(g *globals, f *clientFlags) *cobra.Command {
	var optIn, optOut bool
	var purposes []string
	cmd := &cobra.Command{Use: "research", Short: "Show, give or withdraw consent to research use of your records", Args: cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if optIn && optOut {
				return errors.New("--opt-in and --opt-out together: choose one")
			}
			return nil
		},
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			if optIn == optOut {
				rc, err := s.c.ResearchConsent(cmd.Context(), "")
				if err != nil {
					return err
				}
				return s.print(rc, []string{"OPTED IN", "PURPOSES", "UNTIL"}, [][]string{{strconv.FormatBool(rc.OptIn), strings.Join(rc.Purposes, ","), until(rc.Until)}})
			}
			req := model.ResearchConsentRequest{OptIn: optIn}
			if optIn {
				req.Purposes = purposes
			}
			rc, _, err := s.c.SetResearchConsent(cmd.Context(), req)
			if err != nil {
				return err
			}
			return s.print(rc, []string{"OPTED IN", "PURPOSES"}, [][]string{{strconv.FormatBool(rc.OptIn), strings.Join(rc.Purposes, ",")}})
		})}
	cmd.Flags().BoolVar(&optIn, "opt-in", false, "give consent for --purpose")
	cmd.Flags().BoolVar(&optOut, "opt-out", false, "withdraw consent")
	cmd.Flags().StringSliceVar(&purposes, "purpose", []string{"academic-research"}, "research purposes: academic-research, drug-development, drug-safety, medical-device, public-health, ai-training")
	return cmd
}

func eraseCmd(g *globals, f *clientFlags) *cobra.Command {
	var confirm string
	cmd := &cobra.Command{Use: "erase", Short: "Erase all your records for good (crypto-shredding); cannot be undone", Args: cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if confirm != "erase everything" {
				return errors.New(`erasure cannot be undone: pass --confirm "erase everything"`)
			}
			return nil
		},
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			e, rc, err := s.c.RequestErasure(cmd.Context())
			if err != nil {
				return err
			}
			return s.print(e, []string{"ERASED AT", "TRANSACTION", "KEYS AND CONTENT"}, [][]string{{day(e.RequestedAt), short(rc.TransactionID), rc.Erasure}})
		})}
	cmd.Flags().StringVar(&confirm, "confirm", "", `type "erase everything" to confirm`)
	return cmd
}

func patientsCmd(g *globals, f *clientFlags) *cobra.Command {
	return &cobra.Command{Use: "patients", Short: "Patients who granted you access", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			page, err := s.c.GrantsToMe(cmd.Context(), true, client.Page{Size: 200})
			if err != nil {
				return err
			}
			var rows [][]string
			for _, gr := range page.Grants {
				rows = append(rows, []string{gr.Patient, strings.Join(append(gr.Categories, gr.RecordIDs...), ","), strings.Join(gr.Actions, ","), gr.Purpose, until(gr.ValidUntil), gr.ID})
			}
			return s.list(page, []string{"PATIENT", "SCOPE", "ACTIONS", "PURPOSE", "UNTIL", "GRANT"}, rows, "no patients have granted you access")
		})}
}

func historyCmd(g *globals, f *clientFlags) *cobra.Command {
	var category, purpose string
	cmd := &cobra.Command{Use: "history <patient>", Short: "Read a patient's whole history you may see (each read audited)", Args: cobra.ExactArgs(1),
		RunE: run(g, f, func(cmd *cobra.Command, s *session, args []string) error {
			return showHistory(cmd, s, args[0], category, purpose)
		})}
	cmd.Flags().StringVar(&category, "category", "", "only this category: "+categoryList)
	cmd.Flags().StringVar(&purpose, "purpose", "", "purpose of use")
	return cmd
}

func ownHistoryCmd(g *globals, f *clientFlags) *cobra.Command {
	var category string
	cmd := &cobra.Command{Use: "history", Short: "Read all your records: results, medicines, diagnoses, documents (each read in your access trail)", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			me, err := s.c.Me(cmd.Context())
			if err != nil {
				return err
			}
			return showHistory(cmd, s, me.ID, category, "")
		})}
	cmd.Flags().StringVar(&category, "category", "", "only this category: "+categoryList)
	return cmd
}

// showHistory reads every record of the patient the caller may read and shows who the
// patient is (when their details are among them) and what each record says.
func showHistory(cmd *cobra.Command, s *session, patient, category, purpose string) error {
	// Content is released a page at a time (each read is audited); follow every page.
	all := &client.ReleasePage{}
	page := client.Page{Size: 20}
	for {
		p, err := s.c.PatientContent(cmd.Context(), patient, category, purpose, page)
		if err != nil {
			return err
		}
		all.Releases = append(all.Releases, p.Releases...)
		if p.Bookmark == "" {
			break
		}
		page.Bookmark = p.Bookmark
	}
	person, rows := historyTable(all.Releases, time.Now())
	if person != "" && !s.json {
		fmt.Fprintf(s.out, "Patient: %s\n\n", person)
	}
	return s.list(all, historyHeader, rows, "no records you may read")
}

func appendCmd(g *globals, f *clientFlags) *cobra.Command {
	var file, mediaType string
	var data []byte
	cmd := &cobra.Command{Use: "append <record>", Short: "Add a new version to a record (needs an append grant)", Args: cobra.ExactArgs(1),
		PreRunE: func(cmd *cobra.Command, _ []string) (err error) {
			data, err = readContent(file, mediaType, cmd.Flags().Changed("type"))
			return err
		},
		RunE: run(g, f, func(cmd *cobra.Command, s *session, args []string) error {
			rec, err := s.c.AppendVersion(cmd.Context(), args[0], mediaType, data)
			if err != nil {
				return err
			}
			return s.print(rec, recordHeader, recordRows([]model.Record{*rec}))
		})}
	cmd.Flags().StringVar(&file, "file", "", "the content (- for stdin)")
	cmd.Flags().StringVar(&mediaType, "type", fhir.MediaType, "media type of the content")
	cmd.MarkFlagRequired("file")
	return cmd
}

func emergencyCmd(g *globals, f *clientFlags) *cobra.Command {
	var reason string
	var minutes int
	cmd := &cobra.Command{Use: "emergency <patient>", Short: "Break-glass read access to a patient's records; the patient is told", Args: cobra.ExactArgs(1),
		PreRunE: func(*cobra.Command, []string) error {
			if minutes < 1 || minutes > 1440 {
				return fmt.Errorf("--minutes %d: want 1 to 1440", minutes)
			}
			return nil
		},
		RunE: run(g, f, func(cmd *cobra.Command, s *session, args []string) error {
			gr, err := s.c.EmergencyAccess(cmd.Context(), model.EmergencyRequest{ID: "e-" + uuid.NewString(), Patient: args[0], Reason: reason, DurationMinutes: minutes})
			if err != nil {
				return err
			}
			return s.print(gr, grantHeader, grantRows([]model.Grant{*gr}, lookupNames(cmd.Context(), s.c, gr.GrantedBy.ID)))
		})}
	cmd.Flags().StringVar(&reason, "reason", "", "patient-unconscious, life-threatening, patient-unable-to-consent, urgent-medication-check or other-emergency")
	cmd.Flags().IntVar(&minutes, "minutes", 240, "how long the access lasts (at most 1440)")
	cmd.MarkFlagRequired("reason")
	return cmd
}

func cohortsCmd(g *globals, f *clientFlags) *cobra.Command {
	return &cobra.Command{Use: "cohorts", Short: "Published anonymised cohorts", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			page, err := s.c.Cohorts(cmd.Context(), client.Page{Size: 200})
			if err != nil {
				return err
			}
			var rows [][]string
			for _, co := range page.Cohorts {
				p := co.Publication
				rows = append(rows, []string{p.ID, p.Purpose, strconv.Itoa(p.RowCount), strings.Join(p.Models, ","), "k=" + strconv.Itoa(p.Parameters.K), strings.Join(p.QuasiIdentifiers, ","), day(co.PublishedAt)})
			}
			return s.list(page, []string{"COHORT", "PURPOSE", "ROWS", "MODELS", "PARAMETERS", "QUASI-IDENTIFIERS", "PUBLISHED"}, rows, "no published cohorts")
		})}
}

// cohortFiles are the files of a published cohort, by the extension that names each.
var cohortFiles = map[string]string{".csv": "cohort.csv", ".parquet": "cohort.parquet", ".json": "report.json"}

func downloadCmd(g *globals, f *clientFlags) *cobra.Command {
	var name, out string
	cmd := &cobra.Command{Use: "download <cohort>", Short: "Download a cohort file (cohort.csv, cohort.parquet, report.json)", Args: cobra.ExactArgs(1),
		Example: "  careledger manufacturer download <cohort> -o cohort.parquet   # the file follows from the name's extension",
		PreRunE: func(*cobra.Command, []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			if name == "" {
				name = "cohort.csv"
				if out != "" && out != "-" {
					ext := strings.ToLower(filepath.Ext(out))
					var ok bool
					if name, ok = cohortFiles[ext]; !ok {
						return fmt.Errorf("-o %s: say which file with --file (cohort.csv, cohort.parquet or report.json)", out)
					}
				}
			}
			if !slices.Contains(slices.Collect(maps.Values(cohortFiles)), name) {
				return fmt.Errorf("--file %q: want cohort.csv, cohort.parquet or report.json", name)
			}
			return nil
		},
		RunE: run(g, f, func(cmd *cobra.Command, s *session, args []string) error {
			if out == "" || out == "-" {
				_, err := s.c.DownloadCohortFile(cmd.Context(), args[0], name, cmd.OutOrStdout())
				return err
			}
			var got *client.CohortFile
			err := writeTo(out, func(w io.Writer) (err error) {
				got, err = s.c.DownloadCohortFile(cmd.Context(), args[0], name, w)
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: %s of cohort %s, %d bytes, SHA-256 %s\n", out, name, args[0], got.Size, got.SHA256)
			return nil
		})}
	cmd.Flags().StringVar(&name, "file", "", "which file: cohort.csv, cohort.parquet or report.json (default: from -o's extension, else cohort.csv)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file (default stdout)")
	return cmd
}

func queryCmd(g *globals, f *clientFlags) *cobra.Command {
	var by []string
	cmd := &cobra.Command{Use: "query <cohort>", Short: "Counts by attributes, with small cells suppressed", Args: cobra.ExactArgs(1),
		RunE: run(g, f, func(cmd *cobra.Command, s *session, args []string) error {
			res, err := s.c.Query(cmd.Context(), args[0], client.AggregateQuery{GroupBy: by, Statistic: "count"})
			if err != nil {
				return err
			}
			var rows [][]string
			for _, r := range res.Rows {
				rows = append(rows, append(append([]string{}, r.Values...), strconv.FormatFloat(r.Value, 'f', -1, 64)))
			}
			rows = append(rows, []string{fmt.Sprintf("(%d cells suppressed)", res.SuppressedCells)})
			return s.print(res, res.Columns, rows)
		})}
	cmd.Flags().StringSliceVar(&by, "by", []string{"sex"}, "attributes to count by")
	return cmd
}
