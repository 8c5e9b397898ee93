package e2e

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// The reliability report: each fault test records what it tried and what
// held; TestMain writes RELIABILITY.md when E2E_RELIABILITY_REPORT names a file.
var findings = struct {
	sync.Mutex
	rows []string
}{}

func record(t *testing.T, what, tried, held string) {
	t.Helper()
	if t.Failed() {
		held = "FAILED: " + held
	}
	findings.Lock()
	defer findings.Unlock()
	findings.rows = append(findings.rows, fmt.Sprintf("| %s | %s | %s |", what, tried, held))
}

func TestMain(m *testing.M) {
	code := m.Run()
	if path := os.Getenv("E2E_RELIABILITY_REPORT"); path != "" && len(findings.rows) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "# Reliability\n\nProduced by the end-to-end suite (`e2e/`, run by `make test`) on %s, against the collector built by ocb "+
			"running as a process, with the real SQLite file and PostgreSQL. Each row is one test; it fails the build when what held does not.\n\n",
			time.Now().UTC().Format("2006-01-02 15:04 UTC"))
		b.WriteString("| test | what was tried | what held |\n|---|---|---|\n")
		for _, r := range findings.rows {
			b.WriteString(r + "\n")
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil { //nolint:gosec // RELIABILITY.md is a document of the checkout, readable by all
			fmt.Fprintln(os.Stderr, "writing the reliability report:", err)
		}
	}
	os.Exit(code)
}
