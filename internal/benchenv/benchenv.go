// Package benchenv holds what the benchmark programs under bench/ share: a
// server process started and stopped, a loopback address, a PostgreSQL
// schema of their own, the machine they ran on.
package benchenv

import (
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" for the benchmark's schema
)

// Server is a process under measurement.
type Server struct{ cmd *exec.Cmd }

// Start runs name with args, its output in a temporary file, and waits up
// to 30 s for healthURL to answer 200; the error holds the output when it
// does not.
func Start(name string, args []string, healthURL string) (*Server, error) {
	cmd := exec.Command(name, args...)
	logFile, err := os.CreateTemp("", "bench-server-*.log")
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(healthURL) //nolint:gosec // the benchmarked server's own loopback health URL
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return &Server{cmd: cmd}, nil
			}
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	out, _ := os.ReadFile(logFile.Name())
	return nil, fmt.Errorf("%s did not become healthy:\n%s", name, out)
}

// Stop ends the server with SIGTERM, or SIGKILL after 15 s.
func (s *Server) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// FreeAddr is a loopback address with a free port.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// PostgresSchema makes a fresh schema named after prefix and returns a DSN
// whose search_path is that schema, and a function that drops it.
func PostgresSchema(dsn, prefix string) (string, func(), error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", nil, err
	}
	schema := fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano())
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		_ = db.Close()
		return "", nil, fmt.Errorf("creating the bench schema: %w", err)
	}
	drop := func() { _, _ = db.Exec("DROP SCHEMA " + schema + " CASCADE"); _ = db.Close() }
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema, drop, nil
}

// Machine names the cores, the CPU and the Go release a run had.
func Machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%d cores (%s), %s, %s/%s", runtime.NumCPU(), model, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
