package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScaleSizesGrowByAboutThreeUpToMax(t *testing.T) {
	for _, tc := range []struct {
		max  int
		want []int
	}{
		{500, []int{500}},
		{1000, []int{1000}},
		{10_000, []int{1000, 3000, 10_000}},
		{60_000, []int{1000, 3000, 10_000, 30_000, 60_000}},
		{1_000_000, []int{1000, 3000, 10_000, 30_000, 100_000, 300_000, 1_000_000}},
	} {
		require.Equal(t, tc.want, scaleSizes(tc.max), "max %d", tc.max)
	}
}
