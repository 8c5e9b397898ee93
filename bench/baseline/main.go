// Command baseline is the floor of any Go webhook service on this machine:
// net/http and encoding/json decoding the Alertmanager body, no checks, no
// store, a fixed 200. `make bench` reports every other figure as a ratio to it.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"time"
)

type alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

type message struct {
	Version         string  `json:"version"`
	GroupKey        string  `json:"groupKey"`
	TruncatedAlerts int     `json:"truncatedAlerts"`
	Status          string  `json:"status"`
	Receiver        string  `json:"receiver"`
	ExternalURL     string  `json:"externalURL"`
	Alerts          []alert `json:"alerts"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18600", "listen address")
	flag.Parse()
	http.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		var m message
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success"}`))
	})
	http.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"status":"healthy"}`)) })
	// The same header timeout as the receiver's default, so that both are
	// measured with a server a client cannot hold open for ever.
	srv := &http.Server{Addr: *addr, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
