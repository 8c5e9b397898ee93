package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"errors"
	"io"
	"net/http"
	"sync"
)

// A body is read as its bytes arrive, into a buffer that grows only once it
// is full: what the sender announces in Content-Length caps the buffer but
// never sizes it, so a sender that announces 20 MB and sends one byte holds a
// few kilobytes.

// initialBodyBuffer is the first buffer of a body, or the whole body when
// Content-Length says it is smaller: real notifications are mostly 1–4 KiB
// and are read in one allocation.
const initialBodyBuffer = 4 << 10

// errBudgetExhausted refuses a read that would take an endpoint's
// unauthenticated reads past their budget: a 503, retried later.
var errBudgetExhausted = errors.New("unauthenticated body budget exhausted")

// budget is the memory an endpoint's reads of not-yet-authenticated bodies
// may hold at once.
type budget struct {
	mu   sync.Mutex
	free int64
}

func newBudget(size int64) *budget { return &budget{free: size} }

func (b *budget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.free {
		return false
	}
	b.free -= n
	return true
}

func (b *budget) give(n int64) {
	b.mu.Lock()
	b.free += n
	b.mu.Unlock()
}

// hold is one request's share of a budget. A nil hold is a read that is not
// budgeted: its sender is authenticated.
type hold struct {
	b *budget
	n int64
}

func (b *budget) hold() *hold {
	if b == nil {
		return nil
	}
	return &hold{b: b}
}

func (h *hold) grow(n int64) bool {
	if h == nil {
		return true
	}
	if !h.b.take(n) {
		return false
	}
	h.n += n
	return true
}

func (h *hold) shrink(n int64) {
	if h == nil {
		return
	}
	n = min(n, h.n)
	h.n -= n
	h.b.give(n)
}

// release gives the whole share back; it may be called more than once.
func (h *hold) release() { h.shrink(1<<63 - 1) }

// bodyReader reads one body within the size limit.
type bodyReader struct {
	limit int64
	hold  *hold     // nil: not budgeted
	sink  io.Writer // sees every byte as it arrives (an HMAC), or nil
}

// read reads src to its end. hint is the announced length (-1: unknown). A
// body over the limit is an *http.MaxBytesError, a budget that cannot cover
// the next buffer errBudgetExhausted; the buffer's capacity is what the hold
// accounts for, including the old and the new buffer while it grows.
func (br bodyReader) read(src io.Reader, hint int64) ([]byte, error) {
	ceiling := br.limit
	if hint >= 0 && hint < ceiling {
		ceiling = hint
	}
	size := min(initialBodyBuffer, ceiling)
	if !br.hold.grow(size) {
		return nil, errBudgetExhausted
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) >= ceiling {
				// Full at the announced length or at the limit: one more byte
				// says whether the body ends here.
				b, err := readByte(src)
				if err == io.EOF {
					return buf, nil
				}
				if err != nil {
					return nil, err
				}
				if ceiling >= br.limit {
					return nil, &http.MaxBytesError{Limit: br.limit}
				}
				// Longer than announced (a decoder's output, never net/http's
				// body): read on up to the limit.
				ceiling = br.limit
				if buf, err = br.grow(buf, ceiling); err != nil {
					return nil, err
				}
				br.emit([]byte{b})
				buf = append(buf, b)
				continue
			}
			var err error
			if buf, err = br.grow(buf, ceiling); err != nil {
				return nil, err
			}
		}
		n, err := src.Read(buf[len(buf):cap(buf)])
		if n > 0 {
			br.emit(buf[len(buf) : len(buf)+n])
			buf = buf[:len(buf)+n]
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// grow doubles buf's capacity, up to ceiling, within the hold.
func (br bodyReader) grow(buf []byte, ceiling int64) ([]byte, error) {
	size := min(max(2*int64(cap(buf)), initialBodyBuffer), ceiling)
	if !br.hold.grow(size) {
		return nil, errBudgetExhausted
	}
	grown := make([]byte, len(buf), size)
	copy(grown, buf)
	br.hold.shrink(int64(cap(buf)))
	return grown, nil
}

func (br bodyReader) emit(p []byte) {
	if br.sink != nil {
		_, _ = br.sink.Write(p) // a hash never fails
	}
}

func readByte(r io.Reader) (byte, error) {
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if n == 1 {
			return b[0], nil
		}
		if err != nil {
			return 0, err
		}
	}
}
