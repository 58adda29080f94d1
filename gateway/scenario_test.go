package gateway_test

import (
	"testing"

	"github.com/careledger/careledger/gateway/gatewaytest"
	"github.com/careledger/careledger/gateway/scenario"
	"github.com/careledger/careledger/network"
)

// TestUserStoriesOnEmbeddedLedger runs the shared user stories against the embedded node, with
// every person acting through their organisation's gateway identity as behind the API.
func TestUserStoriesOnEmbeddedLedger(t *testing.T) {
	st := gatewaytest.StartStack(t, 0)
	scenario.Run(t, scenario.Env{
		Service:      st.Service,
		Flush:        st.Flusher.Flush,
		Patient:      st.Client(t, st.User(t, network.PatientsMSP, "patient1")),
		Clinician:    st.As(t, st.User(t, network.ClinicMSP, "clinician1")),
		Manufacturer: st.As(t, st.User(t, network.PharmaMSP, "manufacturer1")),
	})
}
