package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAnonymizeCommandWritesTableAndReport(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	// Six people, each age unique: 2-anonymity needs ages in decades. The thirty-somethings
	// all live in 10115 and the forty-somethings in 10243, so with decades every class
	// (30-39, 10115) and (40-49, 10243) has three people and zip can stay exact: (age 1, zip 0)
	// is the least generalisation that works.
	in := write("in.csv", "name;age;zip;disease\nann;31;10115;flu\nbob;33;10115;cold\ncid;35;10115;flu\ndee;42;10243;asthma\neve;44;10243;flu\nfay;47;10243;cold\n")
	ages := write("age.csv", "31;30-39;*\n33;30-39;*\n35;30-39;*\n42;40-49;*\n44;40-49;*\n47;40-49;*\n")
	zips := write("zip.csv", "10115;101**;*\n10243;102**;*\n")
	out, report := filepath.Join(dir, "out.csv"), filepath.Join(dir, "report.json")

	root := newRoot()
	var stdout bytes.Buffer
	root.SetOut(&stdout)
	root.SetArgs([]string{"anonymize", "--input", in, "--k", "2", "--qi", "age=" + ages, "--qi", "zip=" + zips,
		"--identifying", "name", "--sensitive", "disease", "--output", out, "--report", report, "--quiet"})
	require.NoError(t, root.Execute())

	var rep struct {
		Transformation []struct {
			Attribute string `json:"attribute"`
			Level     int    `json:"level"`
		} `json:"transformation"`
		Utility struct {
			Metric string  `json:"metric"`
			Value  float64 `json:"value"`
		} `json:"utility"`
		Rows struct {
			Output int `json:"output"`
		} `json:"rows"`
	}
	b, err := os.ReadFile(report)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &rep))
	levels := map[string]int{}
	for _, q := range rep.Transformation {
		levels[q.Attribute] = q.Level
	}
	require.Equal(t, map[string]int{"age": 1, "zip": 0}, levels, "the hand-worked optimum")
	require.Equal(t, "non-uniform-entropy", rep.Utility.Metric)
	require.Greater(t, rep.Utility.Value, 0.0)
	require.Equal(t, 6, rep.Rows.Output)

	table, err := os.ReadFile(out)
	require.NoError(t, err)
	require.NotContains(t, string(table), "ann", "identifying attributes are removed")
	require.Contains(t, string(table), "30-39")
	require.Equal(t, 7, strings.Count(string(table), "\n"))

	root = newRoot()
	root.SetArgs([]string{"anonymize", "--input", in, "--qi", "age"})
	require.ErrorContains(t, root.Execute(), "name=hierarchy.csv")
}
