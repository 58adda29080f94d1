//go:build tools

// Package tools pins the MinIO server that the S3 blob-store tests run against. MinIO is AGPL:
// it is only ever built and run as a separate test server, never linked into CareLedger.
package tools

import _ "github.com/minio/minio"
