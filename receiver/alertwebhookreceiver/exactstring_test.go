package alertwebhookreceiver

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

func TestUnquoteExact(t *testing.T) {
	tests := []struct {
		name, literal, want string
	}{
		{"plain", `"{}:{alertname=\"X\"}"`, `{}:{alertname="X"}`},
		{"nothing escaped", `"{}:{a=b}"`, `{}:{a=b}`},
		{"every short escape", `"\"\\\/\b\f\n\r\t"`, "\"\\/\b\f\n\r\t"},
		{"a BMP escape", `"caf\u00e9"`, "café"},
		{"a surrogate pair", `"\ud83d\ude00"`, "😀"},
		{"U+FFFD escaped", `"k\ufffd"`, "k\uFFFD"},
		{"NUL", `"k\u0000"`, "k\x00"},
		{"lone low surrogate: WTF-8", `"k\udcff"`, "k\xed\xb3\xbf"},
		{"lone high surrogate: WTF-8", `"k\ud800x"`, "k\xed\xa0\x80x"},
		{"high then high", `"\ud800\ud801"`, "\xed\xa0\x80\xed\xa0\x81"},
		{"low then high", `"\udc00\ud800"`, "\xed\xb0\x80\xed\xa0\x80"},
		{"invalid bytes kept", "\"k\xff\"", "k\xff"},
		{"invalid bytes beside an escape", "\"k\xfe\\n\"", "k\xfe\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := unquoteExact([]byte(tt.literal))
			require.True(t, ok)
			assert.Equal(t, tt.want, got)
			if json.Valid([]byte(tt.literal)) {
				var std string
				require.NoError(t, json.Unmarshal([]byte(tt.literal), &std))
				if std != tt.want {
					assert.Contains(t, std, "\uFFFD", "where the decoders differ, they replaced something")
				}
			}
		})
	}
	for _, bad := range []string{`"\x"`, `"\u12"`, `"\u12g4"`, `"k\"`, `k`, `"`} {
		_, ok := unquoteExact([]byte(bad))
		assert.False(t, ok, bad)
	}
}

// Keys that differ as sent never become one: neither through the fast
// decoder (valid UTF-8, escapes) nor through the slow one (invalid bytes).
func TestGroupKeysStayDistinct(t *testing.T) {
	keyOf := func(t *testing.T, groupKey string) string {
		t.Helper()
		body := `{"groupKey":"` + groupKey + `","alerts":[{"labels":{"alertname":"T"}}]}`
		n, err := parseNotification([]byte(body), incident.SourceAlertmanager, time.Now())
		require.NoError(t, err)
		return n.GroupKey
	}
	keys := map[string]string{}
	for _, sent := range []string{"k\xff", "k\xfe", `k\udcff`, `k\udcfe`, `k\ufffd`, "k\uFFFD", `k`, `k\u0000`} {
		got := keyOf(t, sent)
		for other, otherGot := range keys {
			sameValue := (sent == `k\ufffd` && other == "k\uFFFD") || (sent == "k\uFFFD" && other == `k\ufffd`)
			if other != sent && !sameValue {
				assert.NotEqual(t, otherGot, got, "%q and %q", sent, other)
			}
		}
		keys[sent] = got
	}
	assert.Equal(t, "k\xff", keys["k\xff"])
	assert.Equal(t, "k\xed\xb3\xbf", keys[`k\udcff`])
	assert.Equal(t, "k\uFFFD", keys[`k\ufffd`], "U+FFFD sent is U+FFFD")
	assert.Equal(t, `{}:{alertname="X"}`, keyOf(t, `{}:{alertname=\"X\"}`), "a valid key is unchanged")
}

// The key is read again only when decoding put U+FFFD in it; null and a
// duplicate key read as the decoders read them.
func TestExactGroupKey(t *testing.T) {
	tests := []struct {
		body, decoded, want string
	}{
		{`{"groupKey":"a\"b"}`, `a"b`, `a"b`},
		{`{"groupKey":"\udcff"}`, "\uFFFD", "\xed\xb3\xbf"},
		{"{\"groupKey\":\"\xff\"}", "\uFFFD", "\xff"},
		{`{"groupKey":"\udcff","GROUPKEY":null}`, "\uFFFD", "\xed\xb3\xbf"},
		{`{"groupKey":"\udcff","groupkey":"\udcfe"}`, "\uFFFD", "\xed\xb3\xbe"},
	}
	for _, tt := range tests {
		var decoded struct{ GroupKey string }
		require.NoError(t, gojson.Unmarshal([]byte(tt.body), &decoded), tt.body)
		if utf8.ValidString(tt.body) {
			assert.Equal(t, tt.decoded, decoded.GroupKey, "goccy, %s", tt.body)
		}
		got, err := exactGroupKey([]byte(tt.body), tt.decoded)
		require.NoError(t, err)
		assert.Equal(t, tt.want, got, tt.body)
	}
}

// A groupKey that is not a string is refused as before: a 400 naming it.
func TestGroupKeyOfAnotherType(t *testing.T) {
	for value, kind := range map[string]string{`1`: "number", `true`: "bool", `[1]`: "array", `{"a":1}`: "object"} {
		_, err := parseNotification([]byte(`{"groupKey":`+value+`,"alerts":[{"labels":{"alertname":"T"}}]}`), incident.SourceAlertmanager, time.Now())
		assert.EqualError(t, err, "Invalid webhook payload: field 'groupKey' must be a string, got JSON "+kind, value)
	}
}

// Where encoding/json replaces nothing, both read a string alike.
func FuzzUnquoteExact(f *testing.F) {
	for _, s := range []string{`"a"`, `"\u00e9\n"`, `"\ud83d\ude00"`, `"{}:{a=\"b\"}"`, `"\/\\"`, `"\u0000"`, `null`, ` "x" `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, lit []byte) {
		lit = bytes.Trim(lit, jsonSpace)
		var std string
		if !bytes.HasPrefix(lit, []byte(`"`)) || json.Unmarshal(lit, &std) != nil || strings.ContainsRune(std, utf8.RuneError) {
			return // not a string, or one with a replacement
		}
		got, ok := unquoteExact(lit)
		if !ok || got != std {
			t.Fatalf("%q: %q (%v), encoding/json %q", lit, got, ok, std)
		}
	})
}
