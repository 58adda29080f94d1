package contract_test

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// orderFree marks a range over a map whose result cannot depend on the iteration order (for
// example one that only counts, or collects and then sorts). Put it in a comment on the line
// of the range statement or the line above, with the reason.
const orderFree = "map order: irrelevant"

// TestNoMapIterationInTheContract type-checks the contract package and fails on every range
// over a map: Go randomises map iteration order, so a loop over a map that returns early,
// appends or writes can make two peers endorse different results, and the transaction fails
// for want of matching endorsements (or, worse, says different things to different callers).
// A loop that is provably order-independent may stay, marked with orderFree and why.
func TestNoMapIterationInTheContract(t *testing.T) {
	fset := token.NewFileSet()
	var files []*ast.File
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		require.NoError(t, err)
		files = append(files, f)
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "gc", exportData(t))}
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}}
	_, err = conf.Check("github.com/careledger/careledger/chaincode/contract", fset, files, info)
	require.NoError(t, err)

	for _, r := range mapRanges(fset, files, info) {
		t.Errorf("%s: range over a map (%s): iterate in a fixed order, or mark it %q with the reason", fset.Position(r.Pos()), types.ExprString(r.X), orderFree)
	}
}

// mapRanges returns the ranges over a map that are not marked orderFree.
func mapRanges(fset *token.FileSet, files []*ast.File, info *types.Info) []*ast.RangeStmt {
	var out []*ast.RangeStmt
	for _, f := range files {
		allowed := map[int]bool{}
		for _, cg := range f.Comments {
			if strings.Contains(cg.Text(), orderFree) {
				allowed[fset.Position(cg.End()).Line] = true
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			r, ok := n.(*ast.RangeStmt)
			if !ok {
				return true
			}
			if _, isMap := info.TypeOf(r.X).Underlying().(*types.Map); !isMap {
				return true
			}
			if line := fset.Position(r.Pos()).Line; !allowed[line] && !allowed[line-1] {
				out = append(out, r)
			}
			return true
		})
	}
	return out
}

// TestTheMapIterationCheckCatchesARangeOverAMap: the check above finds what it looks for.
func TestTheMapIterationCheckCatchesARangeOverAMap(t *testing.T) {
	src := `package p
func f(m map[string]int, s []int) (n int) {
	for k := range m { n += len(k) }
	for _, v := range s { n += v }
	// ` + orderFree + `: a sum
	for _, v := range m { n += v }
	type named map[int]bool
	for k := range (named{}) { n += k }
	return n
}`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, parser.ParseComments)
	require.NoError(t, err)
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}}
	_, err = (&types.Config{}).Check("p", fset, []*ast.File{f}, info)
	require.NoError(t, err)
	var lines []int
	for _, r := range mapRanges(fset, []*ast.File{f}, info) {
		lines = append(lines, fset.Position(r.Pos()).Line)
	}
	require.Equal(t, []int{3, 8}, lines)
}

// exportData finds the compiler's export data of the contract's dependencies with the go
// command, for the gc importer.
func exportData(t *testing.T) func(path string) (io.ReadCloser, error) {
	out, err := exec.Command("go", "list", "-export", "-deps", "-f", "{{.ImportPath}} {{.Export}}", ".").Output()
	require.NoError(t, err, "go list -export")
	files := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if path, file, ok := strings.Cut(sc.Text(), " "); ok && file != "" {
			files[path] = file
		}
	}
	return func(path string) (io.ReadCloser, error) {
		file, ok := files[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(file)
	}
}
