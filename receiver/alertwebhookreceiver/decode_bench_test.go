package alertwebhookreceiver

import (
	"encoding/json"
	"fmt"
	"testing"

	gojson "github.com/goccy/go-json"
)

// BenchmarkDecodeNotification compares the decoders on our payloads:
// encoding/json (the slow path's) and goccy/go-json (the fast path's). The
// json-iterator it replaced measured, in the same run on this machine:
// 1 alert 2.84 µs, 58 allocs; 100 alerts 252 µs, 4 619 allocs (goccy: 2.31 µs,
// 28 allocs; 228 µs, 2 310 allocs; encoding/json: 6.59 µs; 475 µs).
func BenchmarkDecodeNotification(b *testing.B) {
	decoders := []struct {
		name      string
		unmarshal func([]byte, any) error
	}{
		{"encoding-json", json.Unmarshal},
		{"goccy", gojson.Unmarshal},
	}
	for _, n := range []int{1, 100} {
		body := notificationOf(n)
		for _, d := range decoders {
			b.Run(fmt.Sprintf("alerts=%d/%s", n, d.name), func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					var w wireNotification[[]wireAlert]
					if err := d.unmarshal(body, &w); err != nil || len(w.Alerts) != n {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
