package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"bufio"
	"encoding/json"
	"io"
	"strings"
)

// alertsOver reports whether a payload holds more than limit alerts. It
// counts the elements of the alerts array (the top-level array of a
// Prometheus push or of any JSON) as they are read, without decoding them, and stops at the
// first one past the limit. A body it cannot follow is left to the parser,
// which says what is wrong with it.
func alertsOver(body io.Reader, kind payloadKind, limit int) bool {
	s := &jsonScanner{r: bufio.NewReaderSize(body, 32<<10)}
	switch kind {
	case kindPagerDuty:
		return false // one event a request
	case kindPrometheusPush, kindJSON:
		// A json body that is an object is one alert.
		return s.skipSpace() == '[' && s.arrayOver(limit)
	}
	if s.skipSpace() != '{' {
		return false
	}
	for {
		switch s.skipSpace() {
		case '"':
		case '}':
			return false
		default:
			return false // malformed: the parser says what is wrong
		}
		key, ok := s.key()
		if !ok || s.skipSpace() != ':' {
			return false
		}
		// Field names match case-insensitively, as the decoders match them;
		// every "alerts" field counts (the decoders keep the last one).
		if strings.EqualFold(key, "alerts") && s.peekSpace() == '[' {
			s.next()
			if s.arrayOver(limit) {
				return true
			}
		} else if !s.skipValue() {
			return false
		}
		if s.skipSpace() != ',' {
			return false
		}
	}
}

// jsonScanner walks JSON from a stream without building anything: it only
// tells values apart. Any read error or malformed input ends the walk (the
// byte 0 stands for both).
type jsonScanner struct{ r *bufio.Reader }

func (s *jsonScanner) next() byte {
	c, err := s.r.ReadByte()
	if err != nil {
		return 0
	}
	return c
}

func (s *jsonScanner) skipSpace() byte {
	for {
		switch c := s.next(); c {
		case ' ', '\t', '\n', '\r':
		default:
			return c
		}
	}
}

// peekSpace skips blanks and returns the next byte without taking it.
func (s *jsonScanner) peekSpace() byte {
	c := s.skipSpace()
	if c != 0 {
		_ = s.r.UnreadByte()
	}
	return c
}

// arrayOver counts the elements of the array whose '[' was just read.
func (s *jsonScanner) arrayOver(limit int) bool {
	if s.peekSpace() == ']' {
		return false
	}
	for n := 1; ; n++ {
		if n > limit {
			return true
		}
		if !s.skipValue() {
			return false
		}
		if s.skipSpace() != ',' {
			return false // ']' or malformed
		}
	}
}

// maxAlertsKeyLen is the longest "alerts" can be spelled in JSON: six
// characters, each escaped as \uXXXX.
const maxAlertsKeyLen = 6 * 6

// key reads an object key whose opening quote was just read, unescaped. A key
// too long to spell "alerts" is skipped and read as "".
func (s *jsonScanner) key() (string, bool) {
	var raw []byte
	escaped := false
	for {
		c := s.next()
		switch {
		case c == 0:
			return "", false
		case len(raw) > maxAlertsKeyLen:
			_ = s.r.UnreadByte()
			return "", s.skipString()
		case c == '\\':
			escaped = true
			raw = append(raw, c, s.next())
			continue
		case c == '"':
			if !escaped {
				return string(raw), true
			}
			var k string
			if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &k) != nil {
				return "", false
			}
			return k, true
		}
		raw = append(raw, c)
	}
}

// literal reads the rest of true, false or null, whose first byte was read.
func (s *jsonScanner) literal(first byte) bool {
	word := "null"
	switch first {
	case 't':
		word = "true"
	case 'f':
		word = "false"
	}
	for i := range len(word) - 1 {
		if s.next() != word[i+1] {
			return false
		}
	}
	return true
}

// skipString skips the rest of a string whose opening quote was just read.
func (s *jsonScanner) skipString() bool {
	for {
		switch s.next() {
		case 0:
			return false
		case '\\':
			if s.next() == 0 {
				return false
			}
		case '"':
			return true
		}
	}
}

// skipValue skips one value, however deep, without recursion.
func (s *jsonScanner) skipValue() bool {
	depth := 0
	for {
		c := s.skipSpace()
		switch c {
		case 0:
			return false
		case '"':
			if !s.skipString() {
				return false
			}
		case '{', '[':
			depth++
			continue
		case '}', ']':
			depth--
			if depth < 0 {
				return false
			}
		case ',', ':':
			if depth == 0 {
				return false
			}
			continue
		case 't', 'f', 'n':
			if !s.literal(c) {
				return false
			}
		default: // a number: its characters, however many
			if !strings.ContainsRune("-0123456789", rune(c)) {
				return false
			}
			for {
				c = s.next()
				if c == 0 || !strings.ContainsRune("0123456789+-.eE", rune(c)) {
					if c != 0 {
						_ = s.r.UnreadByte()
					}
					break
				}
			}
		}
		if depth == 0 {
			return true
		}
	}
}
