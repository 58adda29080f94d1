package fhir

import (
	"slices"
	"testing"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

// TestCategoriesKnownToLedger makes sure every category a resource can be filed under is one
// the chaincode accepts.
func TestCategoriesKnownToLedger(t *testing.T) {
	all := []string{"note", "vital-signs", "imaging", "questionnaire"}
	for _, c := range resourceCategories {
		all = append(all, c)
	}
	for _, c := range all {
		require.True(t, slices.Contains(model.Categories, c), "%q is not in chaincode/model.Categories", c)
	}
}
