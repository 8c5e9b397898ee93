package proc

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRSSOfThisProcess(t *testing.T) {
	rss := RSS(os.Getpid())
	assert.Greater(t, rss, int64(1<<20), "a Go test binary holds more than 1 MiB")
	assert.Less(t, rss, int64(4<<30))
	assert.Zero(t, RSS(-1))
}
