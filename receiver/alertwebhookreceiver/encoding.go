package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// The receiver decodes compressed bodies itself instead of leaving it to
// confighttp: confighttp answers an unknown or corrupt encoding in plain text
// and decodes before the handler runs, so before any credential is checked. Here
// a body is decoded only once its sender is authenticated (the HMAC covers the
// body as sent), except on the global endpoint without a secret, where the
// decoder's state counts against the unauthenticated budget. The names are
// confighttp's; the size limit also holds after decoding.

const (
	// RFC 8878 asks decoders to support windows of 8 MB; larger ones are refused
	// rather than allocated on a sender's say-so.
	maxZstdWindow = 8 << 20
	// maxDecoderState bounds the memory of one decoder: zstd in low-memory mode
	// holds its window plus half a block (64 KiB) and its tables.
	maxDecoderState = maxZstdWindow + 1<<20
	// flateState covers a flate window (32 KiB), its Huffman tables and the
	// gzip/zlib reader around it.
	flateState = 64 << 10
)

// contentDecoder opens a decoding reader over a body.
type contentDecoder struct {
	name string // as in Content-Encoding; empty for a body sent as is
	// state is the most memory the decoder holds of its own, whatever it decodes.
	state int64
	open  func(r io.Reader, limit int64) (io.ReadCloser, error)
}

var contentDecoders = map[string]contentDecoder{
	"gzip": {state: flateState, open: func(r io.Reader, _ int64) (io.ReadCloser, error) { return gzip.NewReader(r) }},
	"zlib": {state: flateState, open: openZlib},
	// HTTP's "deflate" is the zlib format (RFC 9110 §8.4.1.2), as confighttp reads it.
	"deflate": {state: flateState, open: openZlib},
	"zstd":    {state: maxDecoderState, open: openZstd},
}

func openZstd(r io.Reader, limit int64) (io.ReadCloser, error) {
	zr, err := zstd.NewReader(r,
		zstd.WithDecoderConcurrency(1), // no goroutines: one request, one reader
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(maxZstdWindow),
		// zstd lowers the largest window to this: at the window, so that a small
		// body limit does not refuse frames; the body reader holds the limit.
		zstd.WithDecoderMaxMemory(uint64(max(limit, maxZstdWindow))))
	if err != nil {
		return nil, zstdLimit(err, limit)
	}
	return zstdReader{ReadCloser: zr.IOReadCloser(), limit: limit}, nil
}

// zstdReader reports a frame that decodes past the limit (zstd checks the
// size a frame announces, and what it decodes) as the body limit it is.
type zstdReader struct {
	io.ReadCloser
	limit int64
}

func (z zstdReader) Read(p []byte) (int, error) {
	n, err := z.ReadCloser.Read(p)
	return n, zstdLimit(err, z.limit)
}

func zstdLimit(err error, limit int64) error {
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) {
		return &http.MaxBytesError{Limit: limit}
	}
	return err
}

func openZlib(r io.Reader, _ int64) (io.ReadCloser, error) { return zlib.NewReader(r) }

// identity is a body sent without Content-Encoding.
var identity = contentDecoder{}

// encodings are the content encodings the receiver accepts, from
// http.compression_algorithms ("" is a body sent as is).
type encodings struct {
	allowed map[string]contentDecoder
	names   string // the accepted names, for the 415 detail
}

// newEncodings follows confighttp: no list means every encoding the receiver
// decodes; an empty list means none (bodies sent as is only).
func newEncodings(algorithms []string) encodings {
	if algorithms == nil {
		algorithms = []string{"", "gzip", "zstd", "zlib", "deflate"}
	}
	e := encodings{allowed: make(map[string]contentDecoder, len(algorithms))}
	var names []string
	for _, a := range algorithms {
		if a == "" {
			e.allowed[""] = identity
			continue
		}
		if d, ok := contentDecoders[a]; ok {
			d.name = a
			e.allowed[a] = d
			names = append(names, a)
		}
	}
	if len(algorithms) == 0 {
		e.allowed[""] = identity
	}
	slices.Sort(names)
	e.names = strings.Join(names, ", ")
	return e
}

// instead says what a sender whose encoding is refused should send.
func (e encodings) instead() string {
	if e.names == "" {
		return "send the body as is"
	}
	return "send the body as is or encoded with " + e.names
}

// decoder returns the decoder of a request's Content-Encoding, or false when
// it is not accepted.
func (e encodings) decoder(contentEncoding string) (contentDecoder, bool) {
	d, ok := e.allowed[strings.ToLower(strings.TrimSpace(contentEncoding))]
	return d, ok
}

// validateEncodings refuses algorithms confighttp knows but this receiver does
// not decode (snappy, lz4: no alert sender uses them).
func validateEncodings(algorithms []string) error {
	for _, a := range algorithms {
		if _, ok := contentDecoders[a]; !ok && a != "" {
			return fmt.Errorf("%q is not decoded by this receiver: use \"\", gzip, zstd, zlib or deflate", a)
		}
	}
	return nil
}

// wireReader remembers the connection's own errors, so that a decoder's
// failure (a corrupt body, a 400) can be told apart from the sender's
// connection failing or the raw body exceeding the limit.
type wireReader struct {
	r   io.Reader
	err error
}

func (w *wireReader) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if err != nil && err != io.EOF {
		w.err = err
	}
	return n, err
}
