package anonymizer_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/careledger/careledger/anonymizer"
)

func Example() {
	t, _ := anonymizer.ReadCSV(strings.NewReader(
		"name;age;zip;diagnosis\n"+
			"Ann;34;12345;flu\nBob;36;12346;asthma\nCid;38;12351;flu\n"+
			"Dee;51;12399;diabetes\nEve;55;12377;flu\nFay;57;12388;asthma\n"), anonymizer.CSVOptions{})
	_ = t.SetType("name", anonymizer.Identifying)
	_ = t.SetType("age", anonymizer.QuasiIdentifying)
	_ = t.SetType("zip", anonymizer.QuasiIdentifying)
	_ = t.SetType("diagnosis", anonymizer.Sensitive)
	ages, _ := t.Distinct("age")
	zips, _ := t.Distinct("zip")
	ageH, _ := anonymizer.IntervalHierarchy(ages, 10, 20)
	zipH, _ := anonymizer.PostalCodeHierarchy(zips, anonymizer.HIPAARestrictedZIP3)

	res, err := anonymizer.Anonymize(context.Background(), t, anonymizer.Config{
		Hierarchies: map[string]*anonymizer.Hierarchy{"age": ageH, "zip": zipH},
		Criteria:    []anonymizer.Criterion{anonymizer.KAnonymity(3), anonymizer.DistinctLDiversity("diagnosis", 2)},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, q := range res.Report.Transformation {
		fmt.Printf("%s: level %d of %d\n", q.Attribute, q.Level, q.Height)
	}
	for r := 0; r < res.Output.NumRows(); r++ {
		fmt.Println(strings.Join(res.Output.Row(r), ";"))
	}
	// Output:
	// age: level 1 of 3
	// zip: level 2 of 5
	// 30-39;123**;flu
	// 30-39;123**;asthma
	// 30-39;123**;flu
	// 50-59;123**;diabetes
	// 50-59;123**;flu
	// 50-59;123**;asthma
}
