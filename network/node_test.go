package network_test

import (
	"encoding/json"
	"testing"

	"github.com/careledger/careledger/network"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/stretchr/testify/require"
)

func TestSubmitAndEvaluate(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := contractFor(t, n, network.ClinicMSP, "clinician1")

	txID, err := c.SubmitTransaction("put", "k1", "v1")
	require.NoError(t, err)
	require.Len(t, txID, 64)

	got, err := c.EvaluateTransaction("get", "k1")
	require.NoError(t, err)
	require.Equal(t, "v1", string(got))

	var who map[string]string
	out, err := c.EvaluateTransaction("whoami")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(out, &who))
	require.Equal(t, map[string]string{"msp": network.ClinicMSP, "role": network.RoleClinician, "enrollmentID": "clinician1"}, who)

	secret, err := c.Evaluate("transient", client.WithArguments("k"), client.WithTransient(map[string][]byte{"k": []byte("secret")}))
	require.NoError(t, err)
	require.Equal(t, "secret", string(secret))
	require.EqualValues(t, 2, n.Height())
}
