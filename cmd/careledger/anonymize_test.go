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

// anonymizeInput writes a small table and its hierarchies to dir.
func anonymizeInput(t *testing.T, dir string) (in, ages, zips string) {
	t.Helper()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	// Six people, each age unique: 2-anonymity needs ages in decades. The thirty-somethings
	// all live in 10115 and the forty-somethings in 10243, so with decades every class
	// (30-39, 10115) and (40-49, 10243) has three people and zip can stay exact: (age 1, zip 0)
	// is the least generalisation that works.
	in = write("in.csv", "name;age;zip;disease\nann;31;10115;flu\nbob;33;10115;cold\ncid;35;10115;flu\ndee;42;10243;asthma\neve;44;10243;flu\nfay;47;10243;cold\n")
	ages = write("age.csv", "31;30-39;*\n33;30-39;*\n35;30-39;*\n42;40-49;*\n44;40-49;*\n47;40-49;*\n")
	zips = write("zip.csv", "10115;101**;*\n10243;102**;*\n")
	return in, ages, zips
}

func TestAnonymizeCommandWritesTableAndReport(t *testing.T) {
	dir := t.TempDir()
	in, ages, zips := anonymizeInput(t, dir)
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

// TestAnonymizeCommandRefusesWhatItWouldIgnore runs the command with flags it
// used to drop or resolve silently: each must fail with a message naming the
// problem and write nothing.
func TestAnonymizeCommandRefusesWhatItWouldIgnore(t *testing.T) {
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"l without sensitive", []string{"--k", "2", "--l", "2"}, "--l needs --sensitive"},
		{"t without sensitive", []string{"--k", "2", "--t", "0.2"}, "--t needs --sensitive"},
		{"negative k", []string{"--k", "-2"}, "--k -2: want a positive k"},
		{"negative l", []string{"--sensitive", "disease", "--l", "-1"}, "--l -1"},
		{"t above 1", []string{"--sensitive", "disease", "--t", "1.5"}, "--t 1.5"},
		{"t NaN", []string{"--sensitive", "disease", "--t", "NaN"}, "--t NaN"},
		{"negative max risk", []string{"--max-risk", "-0.1"}, "--max-risk -0.1"},
		{"unknown l variant", []string{"--sensitive", "disease", "--l", "2", "--l-variant", "strict"}, `--l-variant "strict"`},
		{"l variant without l", []string{"--sensitive", "disease", "--l-variant", "entropy"}, "--l-variant needs --l"},
		{"c without recursive", []string{"--sensitive", "disease", "--l", "2", "--c", "3"}, "--c needs --l and --l-variant recursive"},
		{"qi and sensitive", []string{"--sensitive", "zip"}, "zip is given as --qi and as --sensitive"},
		{"qi and identifying", []string{"--identifying", "age"}, "age is given as --qi and as --identifying"},
		{"repeated qi", []string{"--qi", "age=%AGES%"}, "--qi age given twice"},
		{"repeated sensitive", []string{"--sensitive", "disease", "--sensitive", "disease"}, "--sensitive disease given twice"},
		{"mondrian with suppression", []string{"--mondrian", "--suppression", "0.1"}, "--suppression has no effect with --mondrian"},
		{"k above the rows", []string{"--k", "7"}, "needs at least 7 records, the table has 6"},
		{"k above the rows, all may be suppressed", []string{"--k", "7", "--suppression", "1"}, "the table has 6"},
		{"no model", []string{"--k", "0"}, "no privacy model"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			in, ages, zips := anonymizeInput(t, dir)
			out, report := filepath.Join(dir, "out.csv"), filepath.Join(dir, "report.json")
			args := []string{"anonymize", "--input", in, "--qi", "age=" + ages, "--qi", "zip=" + zips,
				"--output", out, "--report", report, "--quiet"}
			for _, a := range tc.args {
				args = append(args, strings.ReplaceAll(a, "%AGES%", ages))
			}
			root := newRoot()
			var stdout bytes.Buffer
			root.SetOut(&stdout)
			root.SetArgs(args)
			require.ErrorContains(t, root.Execute(), tc.msg)
			require.NoFileExists(t, out)
			require.NoFileExists(t, report)
			require.Empty(t, stdout.String())
		})
	}
}
