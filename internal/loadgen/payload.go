package loadgen

import (
	"fmt"
	"strconv"
	"time"
)

// Modes of load.
const (
	ModeUnique    = "unique"    // a new fingerprint for every alert
	ModeDuplicate = "duplicate" // the same alerts again and again
	ModeMixed     = "mixed"     // fire a group, repeat it, resolve it, and again
	ModeGrafana   = "grafana"   // Grafana unified alerting payloads, unique fingerprints
)

// payloadFor builds the body of request seq of a worker and the fingerprints
// it carries. Fingerprints are the run id and a sequence, so that runs never
// collide in a store that outlives them.
func (g *generator) payloadFor(worker int, seq int64) ([]byte, []string) {
	n := g.opts.AlertsPerRequest
	fps := make([]string, n)
	status := "firing"
	var base int64
	switch g.opts.Mode {
	case ModeDuplicate:
		base = int64(worker) * int64(n) // each worker repeats its own alerts
	case ModeMixed:
		// Steps of three: fire, repeat, resolve the same group.
		base = (int64(worker)<<32 | seq/3) * int64(n)
		if seq%3 == 2 {
			status = "resolved"
		}
	default:
		base = g.next.Add(int64(n)) - int64(n)
	}
	for i := range fps {
		fps[i] = g.runID + "-" + strconv.FormatInt(base+int64(i), 36)
	}
	return g.render(fps, status), fps
}

func (g *generator) render(fps []string, status string) []byte {
	b := make([]byte, 0, 256+len(fps)*420)
	if g.opts.Push {
		return g.renderPush(b, fps)
	}
	endsAt := "0001-01-01T00:00:00Z"
	if status == "resolved" {
		endsAt = time.Now().UTC().Format(time.RFC3339)
	}
	if g.opts.Mode == ModeGrafana {
		b = append(b, `{"receiver":"load","status":"`...)
	} else {
		// One notification is one group, as Alertmanager sends them: the
		// group is named after its first alert.
		b = fmt.Appendf(b, `{"version":"4","receiver":"load","groupKey":"{}:{alertname=\"LoadTest\", batch=\"%s\"}","truncatedAlerts":0,`+
			`"externalURL":"http://alertmanager:9093","status":"`, fps[0])
	}
	b = append(b, status...)
	b = append(b, `","alerts":[`...)
	for i, fp := range fps {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"status":%q,"labels":{"alertname":"LoadTest","severity":"warning","service":"load","instance":%q,"run":%q},`+
			`"annotations":{"summary":"Load test alert","description":"Synthetic alert from alertload"},`+
			`"startsAt":%q,"endsAt":%q,"generatorURL":"http://prometheus:9090/graph","fingerprint":%q}`,
			status, fp, g.runID, g.startsAt, endsAt, fp)
	}
	b = append(b, ']')
	if g.opts.Mode == ModeGrafana {
		b = append(b, `,"version":"1","orgId":1,"title":"[FIRING] LoadTest","state":"alerting"`...)
	}
	return append(b, '}')
}

// renderPush is the same alerts as Prometheus pushes them to an Alertmanager
// (POST /api/v2/alerts): an array, no status or fingerprint, firing until
// endsAt.
func (g *generator) renderPush(b []byte, fps []string) []byte {
	endsAt := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
	b = append(b, '[')
	for i, fp := range fps {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"labels":{"alertname":"LoadTest","severity":"warning","service":"load","instance":%q,"run":%q},`+
			`"annotations":{"summary":"Load test alert","description":"Synthetic alert from alertload"},`+
			`"startsAt":%q,"endsAt":%q,"generatorURL":"http://prometheus:9090/graph"}`,
			fp, g.runID, g.startsAt, endsAt)
	}
	return append(b, ']')
}
