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
	size int64
}

func newBudget(size int64) *budget { return &budget{free: size, size: size} }

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

// parseAmplification is how many times a body's size decoding it may hold at
// worst in practice: maps of many short labels (measured 11 ×).
const parseAmplification = 16

// growForParsing takes what decoding a body of n bytes may hold. A body too
// large for that is still decoded, but only while no other read of the
// budget holds anything: one at a time, so that strangers' bodies cannot be
// decoded side by side.
func (h *hold) growForParsing(n int64) bool {
	if h == nil {
		return true
	}
	b := h.b
	b.mu.Lock()
	defer b.mu.Unlock()
	want := n * parseAmplification
	switch {
	case want <= b.free:
	case b.free+h.n == b.size: // only this request holds: take it all
		want = b.free
	default:
		return false
	}
	b.free -= want
	h.n += want
	return true
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
	f := br.start(src, hint)
	for f.more() {
	}
	return f.result()
}

// readAlerts reads a notification's body and counts its alerts as the bytes
// arrive: past maxAlerts it stops reading and reports over, so that a body of
// a few hundred thousand alerts is refused after its first few hundred
// kilobytes, never read, buffered and decoded whole.
func (br bodyReader) readAlerts(src io.Reader, hint int64, kind payloadKind, maxAlerts int) (body []byte, over bool, err error) {
	f := br.start(src, hint)
	// Each alert takes at least two bytes ("1,"): a shorter body cannot be over.
	if hint < 0 || hint > 2*int64(maxAlerts) {
		if alertsOver(f, kind, maxAlerts) {
			return nil, true, nil
		}
	}
	for f.more() {
	}
	body, err = f.result()
	return body, false, err
}

func (br bodyReader) start(src io.Reader, hint int64) *filling {
	f := &filling{br: br, src: src, ceiling: br.limit}
	if hint >= 0 && hint < f.ceiling {
		f.ceiling = hint
	}
	size := min(initialBodyBuffer, f.ceiling)
	if !br.hold.grow(size) {
		f.err = errBudgetExhausted
		return f
	}
	f.buf = make([]byte, 0, size)
	return f
}

// filling is a body being read into its buffer. As an io.Reader it hands on
// the bytes it has read, reading more as they are asked for.
type filling struct {
	br      bodyReader
	src     io.Reader
	buf     []byte
	ceiling int64 // the buffer grows up to this: the announced length or the limit
	handed  int   // bytes of buf handed on by Read
	err     error // io.EOF once the body is complete
}

// more reads the next bytes of the body; false once it is complete or failed.
func (f *filling) more() bool {
	if f.err != nil {
		return false
	}
	if len(f.buf) == cap(f.buf) {
		if int64(len(f.buf)) >= f.ceiling {
			// Full at the announced length or at the limit: one more byte
			// says whether the body ends here.
			b, err := readByte(f.src)
			switch {
			case err != nil:
				f.err = err
				return false
			case f.ceiling >= f.br.limit:
				f.err = &http.MaxBytesError{Limit: f.br.limit}
				return false
			}
			// Longer than announced (a decoder's output, never net/http's
			// body): read on up to the limit.
			f.ceiling = f.br.limit
			if !f.grow() {
				return false
			}
			f.br.emit([]byte{b})
			f.buf = append(f.buf, b)
			return true
		}
		if !f.grow() {
			return false
		}
	}
	n, err := f.src.Read(f.buf[len(f.buf):cap(f.buf)])
	if n > 0 {
		f.br.emit(f.buf[len(f.buf) : len(f.buf)+n])
		f.buf = f.buf[:len(f.buf)+n]
	}
	if err != nil {
		f.err = err
		return n > 0
	}
	return true
}

// grow doubles the buffer's capacity, up to the ceiling, within the hold.
func (f *filling) grow() bool {
	size := min(max(2*int64(cap(f.buf)), initialBodyBuffer), f.ceiling)
	if !f.br.hold.grow(size) {
		f.err = errBudgetExhausted
		return false
	}
	grown := make([]byte, len(f.buf), size)
	copy(grown, f.buf)
	f.br.hold.shrink(int64(cap(f.buf)))
	f.buf = grown
	return true
}

// Read hands on the bytes read so far that were not handed on yet.
func (f *filling) Read(p []byte) (int, error) {
	for f.handed == len(f.buf) {
		if !f.more() && f.handed == len(f.buf) {
			return 0, f.err
		}
	}
	n := copy(p, f.buf[f.handed:])
	f.handed += n
	return n, nil
}

func (f *filling) result() ([]byte, error) {
	if !errors.Is(f.err, io.EOF) {
		return nil, f.err
	}
	return f.buf, nil
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
