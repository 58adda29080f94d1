package anonymizer

import (
	"fmt"
	"os"
	"path/filepath"
)

// AdultColumns are the attributes of the UCI Adult data set as distributed
// with ARX, in file order.
var AdultColumns = []string{"sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation", "salary-class"}

// LoadAdult reads adult.csv and the adult_hierarchy_<attribute>.csv files
// ARX ships from dir, with every attribute marked quasi-identifying.
func LoadAdult(dir string) (*Table, map[string]*Hierarchy, error) {
	f, err := os.Open(filepath.Join(dir, "adult.csv"))
	if err != nil {
		return nil, nil, fmt.Errorf("load adult: %w", err)
	}
	defer f.Close()
	t, err := ReadCSV(f, CSVOptions{Delimiter: ';'})
	if err != nil {
		return nil, nil, fmt.Errorf("load adult: %w", err)
	}
	hs := map[string]*Hierarchy{}
	for _, name := range t.Columns() {
		h, err := loadHierarchyFile(filepath.Join(dir, "adult_hierarchy_"+name+".csv"))
		if err != nil {
			return nil, nil, fmt.Errorf("load adult: %w", err)
		}
		hs[name] = h
		if err := t.SetType(name, QuasiIdentifying); err != nil {
			return nil, nil, err
		}
	}
	return t, hs, nil
}

// LoadHierarchyFile reads one ARX hierarchy file.
func loadHierarchyFile(path string) (*Hierarchy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, err := ReadHierarchyCSV(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return h, nil
}
