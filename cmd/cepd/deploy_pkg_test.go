package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestDockerfile: the image is built in stages, the binary static (CGO off) and run by a
// non-root user with an exec-form entrypoint; the binary built as the Dockerfile builds
// it has no dynamic loader and no shared library. (No Docker engine here: a structural
// check, with the binary built for real.)
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var stages [][]string // instructions per stage
	sc := bufio.NewScanner(bytes.NewReader(bytes.ReplaceAll(raw, []byte("\\\n"), nil)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(strings.ToUpper(line), "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("instruction before FROM: %s", line)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], line)
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a runtime stage", len(stages))
	}
	build, final := strings.Join(stages[0], "\n"), stages[len(stages)-1]
	if !strings.Contains(build, "CGO_ENABLED=0") || !strings.Contains(build, "go build") {
		t.Errorf("the build stage does not build with CGO_ENABLED=0")
	}
	var user, entry string
	copied := false
	for _, in := range final {
		switch f := strings.Fields(in); strings.ToUpper(f[0]) {
		case "USER":
			user = f[1]
		case "ENTRYPOINT":
			entry = strings.TrimSpace(strings.TrimPrefix(in, f[0]))
		case "COPY":
			copied = copied || strings.Contains(in, "--from=")
		case "RUN", "ADD":
			t.Errorf("the runtime stage runs or adds: %s", in)
		}
	}
	if uid, _, _ := strings.Cut(user, ":"); user == "" || uid == "0" || uid == "root" {
		t.Errorf("runtime user %q: want a non-root user", user)
	}
	var argv []string
	if err := json.Unmarshal([]byte(entry), &argv); err != nil || len(argv) == 0 {
		t.Errorf("ENTRYPOINT %q: want the exec form (a JSON list), so SIGTERM reaches cepd", entry)
	}
	if !copied {
		t.Errorf("the runtime stage copies nothing from the build stage")
	}

	// The binary, built as the Dockerfile does.
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "cepd")
	cmd := exec.Command(gobin, "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary asks for a dynamic loader: not static")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v (%v)", libs, err)
	}
}

// yamlDocs decodes every document of a multi-document YAML file.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var docs []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		docs = append(docs, d)
	}
}

// dig follows keys (strings) and list indexes (ints) into a decoded YAML value.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// TestKubernetesManifest: the manifest has a Deployment whose container probes /livez
// (liveness, startup) and /readyz (readiness), sets requests and limits, runs as
// non-root with a read-only root; a PodDisruptionBudget and a Service select its pods;
// the ConfigMap's settings load as cepd's --config file.
func TestKubernetesManifest(t *testing.T) {
	byKind := map[string]map[string]any{}
	for _, d := range yamlDocs(t, "../../deploy/kubernetes/cepd.yaml") {
		kind, _ := d["kind"].(string)
		byKind[kind] = d
	}
	for _, k := range []string{"Deployment", "Service", "PodDisruptionBudget", "ConfigMap"} {
		if byKind[k] == nil {
			t.Fatalf("no %s in the manifest", k)
		}
	}
	dep := byKind["Deployment"]
	labels := dig(dep, "spec", "template", "metadata", "labels").(map[string]any)
	matches := func(sel any) bool {
		m, ok := sel.(map[string]any)
		if !ok || len(m) == 0 {
			return false
		}
		for k, v := range m {
			if labels[k] != v {
				return false
			}
		}
		return true
	}
	for _, s := range []struct {
		kind string
		sel  any
	}{
		{"Deployment", dig(dep, "spec", "selector", "matchLabels")},
		{"PodDisruptionBudget", dig(byKind["PodDisruptionBudget"], "spec", "selector", "matchLabels")},
		{"Service", dig(byKind["Service"], "spec", "selector")},
	} {
		if !matches(s.sel) {
			t.Errorf("the %s's selector %v does not select the pods (%v)", s.kind, s.sel, labels)
		}
	}
	if dig(byKind["PodDisruptionBudget"], "spec", "maxUnavailable") == nil && dig(byKind["PodDisruptionBudget"], "spec", "minAvailable") == nil {
		t.Errorf("the PodDisruptionBudget bounds nothing")
	}
	c := dig(dep, "spec", "template", "spec", "containers", 0)
	for probe, path := range map[string]string{"livenessProbe": "/livez", "startupProbe": "/livez", "readinessProbe": "/readyz"} {
		if got := dig(c, probe, "httpGet", "path"); got != path {
			t.Errorf("%s path %v, want %s", probe, got, path)
		}
	}
	for _, r := range [][]any{{"requests", "cpu"}, {"requests", "memory"}, {"limits", "memory"}} {
		if dig(c, append([]any{"resources"}, r...)...) == nil {
			t.Errorf("no resources.%s.%s", r[0], r[1])
		}
	}
	if dig(dep, "spec", "template", "spec", "securityContext", "runAsNonRoot") != true {
		t.Errorf("the pod does not run as non-root")
	}
	if dig(c, "securityContext", "readOnlyRootFilesystem") != true || dig(c, "securityContext", "allowPrivilegeEscalation") != false {
		t.Errorf("the container's root is writable or it may escalate privileges")
	}
	if g, ok := dig(dep, "spec", "template", "spec", "terminationGracePeriodSeconds").(int); !ok || g < 30 {
		t.Errorf("terminationGracePeriodSeconds %v: cepd needs time for the final checkpoint and commit", g)
	}
	cfg, _ := dig(byKind["ConfigMap"], "data", "cepd.yaml").(string)
	path := filepath.Join(t.TempDir(), "cepd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := applyConfigFile(serveFlagSet(), path); err != nil {
		t.Errorf("the ConfigMap's cepd.yaml: %v", err)
	}
	// The container ports are the ones the settings listen on.
	for _, name := range []string{"http", "grpc"} {
		port := regexp.MustCompile(`(?m)^` + name + `: \S+:(\d+)$`).FindStringSubmatch(cfg)
		found := false
		for i := 0; dig(c, "ports", i) != nil; i++ {
			if dig(c, "ports", i, "name") == name && port != nil && dig(c, "ports", i, "containerPort") == atoiT(t, port[1]) {
				found = true
			}
		}
		if !found {
			t.Errorf("no container port %s matching the settings' %v", name, port)
		}
	}
}

func atoiT(t *testing.T, s string) int {
	t.Helper()
	var n int
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// TestSystemdUnit: the unit runs `cepd serve --config`, not as root, restarts on failure,
// stops with SIGTERM and time for the final checkpoint, keeps its state in a state
// directory, and takes secrets from an environment file, not its command line.
func TestSystemdUnit(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/systemd/cepd.service")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	section := ""
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Errorf("not a key=value line: %q", line)
			}
			keys[section+"."+k] = v
		}
	}
	exec := keys["Service.ExecStart"]
	if !strings.Contains(exec, "cepd serve") || !strings.Contains(exec, "--config") {
		t.Errorf("ExecStart %q: want cepd serve --config", exec)
	}
	if strings.Contains(exec, "password") || strings.Contains(exec, "secret") || strings.Contains(exec, "token") {
		t.Errorf("ExecStart %q carries a secret (ps shows it)", exec)
	}
	if keys["Service.DynamicUser"] != "yes" && (keys["Service.User"] == "" || keys["Service.User"] == "root") {
		t.Errorf("the service runs as root")
	}
	for k, want := range map[string]string{"Service.Restart": "on-failure", "Service.KillSignal": "SIGTERM",
		"Service.StateDirectory": "cepd", "Service.NoNewPrivileges": "yes", "Install.WantedBy": "multi-user.target"} {
		if keys[k] != want {
			t.Errorf("%s=%q, want %q", k, keys[k], want)
		}
	}
	if !strings.HasPrefix(keys["Service.EnvironmentFile"], "-/etc/cepd/") {
		t.Errorf("EnvironmentFile %q: secrets come from an environment file", keys["Service.EnvironmentFile"])
	}
}
