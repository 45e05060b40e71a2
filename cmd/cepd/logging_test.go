package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestLogFormat: --log-format json writes one JSON object per line, text key=value;
// anything else is refused with the flag's name.
func TestLogFormat(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger(&buf, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("rule changed", "rule", "card-testing", "version", 2, "author", "alice")
	log.Debug("not at info")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("json log line %q: %v", buf.String(), err)
	}
	if line["msg"] != "rule changed" || line["rule"] != "card-testing" || line["version"] != float64(2) || line["level"] != "INFO" {
		t.Errorf("json log line %v", line)
	}
	buf.Reset()
	if log, err = newLogger(&buf, "debug", "text"); err != nil {
		t.Fatal(err)
	}
	log.Debug("dead letter", "reason", "bad_json")
	if !strings.Contains(buf.String(), `level=DEBUG msg="dead letter" reason=bad_json`) {
		t.Errorf("text log line %q", buf.String())
	}
	for _, c := range [][2]string{{"info", "xml"}, {"loud", "text"}} {
		if _, err := newLogger(&buf, c[0], c[1]); err == nil {
			t.Errorf("level %q format %q accepted", c[0], c[1])
		}
	}
	if _, err := newLogger(&buf, "info", "yaml"); err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Errorf("bad format: %v", err)
	}
}
