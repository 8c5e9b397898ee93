package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// exactGroupKey returns a notification's groupKey as it was sent. The
// groupKey is an identity, like a fingerprint: two different keys must never
// become one. Both JSON decoders replace invalid UTF-8 and escaped lone
// surrogates with U+FFFD ("k\xff" and "k\xfe" would both be "k\uFFFD"), so a
// key decoded with U+FFFD in it (rare: the check costs the fast path
// nothing) is read again from body, exactly.
func exactGroupKey(body []byte, decoded string) (string, error) {
	if !strings.ContainsRune(decoded, utf8.RuneError) {
		return decoded, nil
	}
	var exact struct {
		GroupKey exactString `json:"groupKey"`
	}
	if err := json.Unmarshal(body, &exact); err != nil {
		return "", describeJSONError(err)
	}
	return string(exact.GroupKey), nil
}

// exactString is a JSON string decoded so that two different JSON strings
// never give the same Go string: invalid bytes are kept as they were sent,
// and an escaped lone surrogate (\udcff) becomes its WTF-8 bytes (ED B3 BF),
// invalid UTF-8 too and never U+FFFD. (The escape and those three bytes sent
// raw give the same string: both spell the same code point.)
type exactString string

// UnmarshalJSON decodes a string literal; null leaves the value as it was,
// as for a plain string field.
func (s *exactString) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	v, ok := unquoteExact(data)
	if !ok {
		return errNotAString
	}
	*s = exactString(v)
	return nil
}

var errNotAString = errors.New("not a JSON string")

// unquoteExact decodes a JSON string literal, quotes included, byte for byte:
// what is not an escape is copied as it is, valid UTF-8 or not.
func unquoteExact(lit []byte) (string, bool) {
	if len(lit) < 2 || lit[0] != '"' || lit[len(lit)-1] != '"' {
		return "", false
	}
	lit = lit[1 : len(lit)-1]
	first := bytes.IndexByte(lit, '\\')
	if first < 0 {
		return string(lit), true
	}
	var out strings.Builder
	out.Grow(len(lit))
	out.Write(lit[:first])
	for i := first; i < len(lit); {
		if lit[i] != '\\' {
			out.WriteByte(lit[i])
			i++
			continue
		}
		if i+1 >= len(lit) {
			return "", false
		}
		switch c := lit[i+1]; c {
		case '"', '\\', '/':
			out.WriteByte(c)
		case 'b':
			out.WriteByte('\b')
		case 'f':
			out.WriteByte('\f')
		case 'n':
			out.WriteByte('\n')
		case 'r':
			out.WriteByte('\r')
		case 't':
			out.WriteByte('\t')
		case 'u':
			r, ok := hex4(lit[i+2:])
			if !ok {
				return "", false
			}
			i += 6
			if !utf16.IsSurrogate(r) {
				out.WriteRune(r)
				continue
			}
			if low, ok := lowSurrogate(lit[i:]); ok && r < 0xdc00 {
				out.WriteRune(utf16.DecodeRune(r, low))
				i += 6
				continue
			}
			writeWTF8(&out, r)
			continue
		default:
			return "", false
		}
		i += 2
	}
	return out.String(), true
}

// lowSurrogate reads a \uXXXX escape of a low surrogate at the start of b.
func lowSurrogate(b []byte) (rune, bool) {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return 0, false
	}
	r, ok := hex4(b[2:])
	return r, ok && r >= 0xdc00 && r <= 0xdfff
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// writeWTF8 writes a lone surrogate (U+D800 to U+DFFF) as UTF-8 would write
// its code point (WriteRune refuses surrogates and writes U+FFFD instead):
// 0xED (1110 and the top four bits, 1101), then two continuation bytes of
// six bits each.
func writeWTF8(b *strings.Builder, r rune) {
	b.WriteByte(0xed)
	b.WriteByte(byte(0x80 | r>>6&0x3f)) //nolint:gosec // G115: six bits, masked
	b.WriteByte(byte(0x80 | r&0x3f))    //nolint:gosec // G115: six bits, masked
}
