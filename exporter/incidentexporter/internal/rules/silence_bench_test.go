package rules

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// Checking a new alert against 1 000 active silences: through the index,
// and against each one, as a store without it would.
func BenchmarkSilencesHolding(b *testing.B) {
	var all []Silence
	for i := range 1000 {
		all = append(all, Silence{
			ID: strconv.Itoa(i), Matchers: []Matcher{{Name: "service", Value: fmt.Sprintf("svc-%d", i), Op: MatchEqual}},
			StartsAt: t0, EndsAt: t0.Add(time.Hour),
		})
	}
	for i := range all {
		all[i].Compile()
	}
	labels := `{"alertname":"HighErrorRate","service":"api-gateway","instance":"gw-1:8080"}`
	at := t0.Add(time.Minute)
	b.Run("indexed", func(b *testing.B) {
		idx := NewSilences(all)
		for b.Loop() {
			if idx.Holding("prod", labels, at, "") != nil {
				b.Fatal("matched")
			}
		}
	})
	b.Run("each", func(b *testing.B) {
		for b.Loop() {
			ls := labelValues(labels)
			for i := range all {
				if all[i].Matches("prod", ls) {
					b.Fatal("matched")
				}
			}
		}
	})
}
