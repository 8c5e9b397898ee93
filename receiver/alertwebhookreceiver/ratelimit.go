package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"math"
	"time"

	"golang.org/x/time/rate"
)

// limiter is one token bucket (an integration's or the global endpoint's).
type limiter struct{ bucket *rate.Limiter }

func newLimiter(cfg RateLimitConfig) limiter {
	return limiter{bucket: rate.NewLimiter(rate.Limit(cfg.RequestsPerSecond), cfg.Burst)}
}

// allow takes a token, or says in how many whole seconds one will be there.
func (l limiter) allow(now time.Time) (bool, int) {
	res := l.bucket.ReserveN(now, 1)
	if !res.OK() {
		return false, 1
	}
	wait := res.DelayFrom(now)
	if wait == 0 {
		return true, 0
	}
	// Give the token back: this request is refused, not queued.
	res.CancelAt(now)
	return false, max(1, int(math.Ceil(wait.Seconds())))
}
