// Command alertload posts alert webhooks to a collector and reports what it
// answered: requests/s, alerts/s, latency percentiles, status codes.
//
//	alertload -url http://127.0.0.1:8504/webhooks/alertmanager -mode unique -alerts 1 -c 32 -d 10s
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"

	"github.com/sre-copilot/incident-collector/internal/loadgen"
)

func main() { os.Exit(run()) }

// run is main with an exit code, so that deferred calls run before the exit.
func run() int {
	var o loadgen.Options
	var asJSON bool
	var ackedFile string
	flag.StringVar(&o.URL, "url", "http://127.0.0.1:8504/webhooks/alertmanager", "webhook URL")
	flag.StringVar(&o.Mode, "mode", loadgen.ModeUnique, "unique | duplicate | mixed | grafana")
	flag.IntVar(&o.AlertsPerRequest, "alerts", 1, "alerts per request (1 … 500)")
	flag.IntVar(&o.Connections, "c", 32, "connections")
	flag.DurationVar(&o.Duration, "d", 0, "duration (default 10s when -n is not given)")
	flag.Int64Var(&o.Requests, "n", 0, "number of requests instead of a duration")
	flag.Float64Var(&o.Rate, "rate", 0, "fixed rate in requests/s (0: as fast as answered)")
	flag.BoolVar(&o.Push, "push", false, "send Prometheus push bodies (POST /api/v2/alerts of an Alertmanager or of an integration)")
	flag.StringVar(&o.Secret, "secret", "", "X-Webhook-Secret")
	flag.StringVar(&o.Bearer, "bearer", "", "Authorization: Bearer token")
	flag.StringVar(&o.RunID, "run-id", "", "fingerprint prefix (default: from the clock)")
	flag.DurationVar(&o.Timeout, "timeout", 0, "per-request timeout (default 30s)")
	flag.BoolVar(&asJSON, "json", false, "print the result as JSON")
	flag.StringVar(&ackedFile, "acked", "", "write the fingerprints acknowledged with 2xx to this file, one a line")
	flag.Parse()
	if o.Duration == 0 && o.Requests == 0 {
		o.Duration = 10_000_000_000
	}
	o.TrackAcked = ackedFile != ""

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := loadgen.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "alertload:", err)
		return 2
	}
	if ackedFile != "" {
		if err := writeLines(ackedFile, res.AckedAlerts); err != nil {
			fmt.Fprintln(os.Stderr, "alertload:", err)
			return 1
		}
	}
	if asJSON {
		_ = json.NewEncoder(os.Stdout).Encode(res)
		return 0
	}
	fmt.Printf("requests %d (%.0f/s)  alerts %d (%.0f/s)  in %.1fs\n", res.Requests, res.RequestsPS, res.Alerts, res.AlertsPS, res.Seconds)
	fmt.Printf("latency ms  p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", res.LatencyP50, res.LatencyP90, res.LatencyP99, res.LatencyMax)
	codes := make([]string, 0, len(res.Codes))
	for c := range res.Codes {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	fmt.Print("codes")
	for _, c := range codes {
		fmt.Printf("  %s: %d", c, res.Codes[c])
	}
	fmt.Printf("\nnon-2xx %d  transport errors %d\n", res.Non2xx, res.Errors)
	return 0
}

func writeLines(path string, lines []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, l := range lines {
		_, _ = w.WriteString(l)
		_ = w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
