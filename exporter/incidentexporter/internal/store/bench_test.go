package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/sre-copilot/incident-collector/internal/testutil"
)

// benchmarkApply measures the store write path: each iteration applies one
// request of size alerts; parallel callers share group commits.
func benchmarkApply(b *testing.B, s *Store, size int, unique bool) {
	var seq atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		alerts := make([]Alert, size)
		for pb.Next() {
			base := int64(0)
			if unique {
				base = seq.Add(int64(size))
			}
			for i := range alerts {
				alerts[i] = firing(fmt.Sprintf("fp-%d", base+int64(i)), t0)
			}
			if _, err := s.Apply(context.Background(), alerts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "alerts/s")
}

func BenchmarkSQLiteApply(b *testing.B) {
	benchmarkStore(b, func(b *testing.B) Options {
		return Options{Driver: DriverSQLite, DSN: filepath.Join(b.TempDir(), "bench.db")}
	})
}

func BenchmarkPostgresApply(b *testing.B) {
	benchmarkStore(b, func(b *testing.B) Options {
		return Options{Driver: DriverPostgres, DSN: testutil.PostgresSchema(b)}
	})
}

// benchmarkStore runs the three loads of `make bench` on a fresh store each.
func benchmarkStore(b *testing.B, open func(*testing.B) Options) {
	for _, tc := range []struct {
		name   string
		size   int
		unique bool
	}{{"unique-1", 1, true}, {"duplicate-1", 1, false}, {"unique-100", 100, true}} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := Open(context.Background(), open(b))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close(context.Background())
			benchmarkApply(b, s, tc.size, tc.unique)
		})
	}
}
