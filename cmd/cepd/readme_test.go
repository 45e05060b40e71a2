package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const (
	readmePath     = "../../README.md"
	readmeExamples = "../../scripts/readme-examples.sh"
)

// readmeBlocks returns the ```sh blocks of README.md that talk to cepd: those naming
// localhost:8080 or with a line starting with "cepd ". The others (go run, Kafka, the
// test script) are not run.
func readmeBlocks(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(data), -1) {
		b := m[1]
		if strings.Contains(b, "localhost:8080") || regexp.MustCompile(`(?m)^cepd `).MatchString(b) {
			out = append(out, b)
		}
	}
	return out
}

// TestReadmeExamples runs the README's examples against a real cepd: every block of
// README.md that talks to cepd must be in scripts/readme-examples.sh verbatim, and the
// script must run to the end (every request answered without an HTTP error, every cepd
// command exiting 0) against `cepd serve` on a free port.
func TestReadmeExamples(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (scripts/test.sh installs it): %v", tool, err)
		}
	}
	script, err := os.ReadFile(readmeExamples)
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(t)
	if len(blocks) < 4 {
		t.Fatalf("README.md has %d blocks that talk to cepd, want 4 or more", len(blocks))
	}
	for _, b := range blocks {
		if !strings.Contains(string(script), b) {
			t.Errorf("this README.md block is not in %s (copy it there verbatim):\n%s", readmeExamples, b)
		}
	}
	if t.Failed() {
		return
	}

	bin := buildCepd(t)
	dir := t.TempDir()
	testdata, err := filepath.Abs("../../testdata")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(testdata, filepath.Join(dir, "testdata")); err != nil {
		t.Fatal(err)
	}
	p := startCepdProc(t, bin, filepath.Join(dir, "cepd.log"),
		[]string{"serve", "--http", "127.0.0.1:0", "--data", filepath.Join(dir, "cepd-data")})
	defer func() {
		if err := p.stop(10 * time.Second); err != nil {
			t.Error(err)
		}
	}()
	abs, err := filepath.Abs(readmeExamples)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", abs)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CEPD_BIN="+bin, "CEPD_ADDR="+p.api)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/readme-examples.sh: %v\n%s", err, tail(out, 4000))
	}
	for _, want := range []string{
		`"accepted":26`,             // the card-testing example file
		`"rule_id":"card-testing"`,  // its alerts listed
		"passed, 0 failed",          // cepd test
		`"line":4`,                  // the validate example's error
		`"state":"`,                 // a backtest
		`"events_file":"day.jsonl"`, // over the generated file
		`{"version":2,"action":"update","author":"anonymous"}`, // the schema changed live
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the examples' output lacks %s:\n%s", want, tail(out, 4000))
		}
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
