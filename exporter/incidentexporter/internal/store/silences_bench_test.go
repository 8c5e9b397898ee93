package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/rules"
)

// New alerts with 1 000 active silences that do not match them (990 with an
// equality matcher, 10 with regular expressions only), against none:
// matching is only for an alert that would open an incident, through the
// silences' index by equality matcher (README, "Silences").
func BenchmarkSQLiteApplySilences(b *testing.B) {
	for _, n := range []int{0, 1000} {
		b.Run(fmt.Sprintf("silences-%d", n), func(b *testing.B) {
			s, err := Open(context.Background(), Options{Driver: DriverSQLite, DSN: filepath.Join(b.TempDir(), "bench.db")})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close(context.Background())
			for i := range n {
				matchers := []rules.Matcher{{Name: "service", Value: fmt.Sprintf("svc-%d", i), Op: rules.MatchEqual}}
				if i%100 == 0 { // a few without an equality matcher: checked against every new alert
					matchers = []rules.Matcher{{Name: "instance", Value: fmt.Sprintf("host-%d-.*", i), Op: rules.MatchRegexp}}
				}
				if _, err := s.CreateSilence(context.Background(), NewSilence{Matchers: matchers, EndsAt: time.Now().Add(time.Hour), CreatedBy: "bench"}); err != nil {
					b.Fatal(err)
				}
			}
			benchmarkApply(b, s, 1, true)
		})
	}
}
