// Package testnetwork holds the gated end-to-end tests that run CareLedger against the real
// multi-organisation Fabric network brought up by network.sh. The network itself is the
// shell script, the rendered configuration (internal/render), the enrolment step
// (internal/enrol) and the connection file format (connprofile); see README.md.
package testnetwork
