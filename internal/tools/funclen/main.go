// Command funclen lists the functions over 80 lines outside generated code, not counting
// table data (slice literals of three or more elements), for issue 14's rule that no
// hand-written function is longer: `go run ./internal/tools/funclen .` prints the length
// without tables, the length, the place and the name of each, one per line.
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	root := "."
	if len(os.Args) > 1 {
		root = os.Args[1]
	}
	fset := token.NewFileSet()
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "third_party" || (strings.HasPrefix(d.Name(), ".") && p != root)) {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		src, _ := os.ReadFile(p)
		if strings.Contains(string(src), "Code generated") && strings.Contains(string(src), "DO NOT EDIT") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, src, 0)
		if err != nil {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			fd, ok := n.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				return true
			}
			a, b := fset.Position(fd.Pos()).Line, fset.Position(fd.End()).Line
			table := 0
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				cl, ok := n.(*ast.CompositeLit)
				if !ok {
					return true
				}
				if _, isArr := cl.Type.(*ast.ArrayType); isArr && len(cl.Elts) >= 3 {
					table += fset.Position(cl.End()).Line - fset.Position(cl.Pos()).Line + 1
					return false
				}
				return true
			})
			if b-a+1-table > 80 {
				fmt.Printf("%d\t%d\t%s:%d\t%s\n", b-a+1-table, b-a+1, strings.TrimPrefix(p, root+"/"), a, fd.Name.Name)
			}
			return true
		})
		return nil
	})
}
