package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// An action's body: {"by": "alice", "note": "looking"}.

const (
	maxByChars   = 200
	maxNoteBytes = 4 << 10
)

type action struct {
	by, note string
}

// actionJSON is the body as sent; By is a pointer to tell a missing by
// from an empty one in the message.
type actionJSON struct {
	By   *string `json:"by"`
	Note string  `json:"note"`
}

// readAction reads and checks an action's body. The error is the answer's
// detail, with its status code.
//
// The body must be declared as JSON: a browser that holds a person's
// credentials (HTTP Basic) sends a cross-site form as text/plain or a form
// encoding without asking, but asks the server before it sends JSON
// (CORS), so no other site can act in that person's name.
func readAction(req *http.Request) (action, int, error) {
	var body actionJSON
	if status, err := readJSON(req, &body, `{"by":"alice","note":"looking"}`); err != nil {
		return action{}, status, err
	}
	checked, err := body.check()
	if err != nil {
		return action{}, http.StatusBadRequest, err
	}
	return checked, 0, nil
}

// readJSON reads a request's body, a JSON object declared as JSON, into
// dst, refusing unknown fields. The error is the answer's detail, with its
// status code; example shows what to send.
func readJSON(req *http.Request, dst any, example string) (int, error) {
	mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return http.StatusUnsupportedMediaType,
			errors.New(`the body must be JSON, sent with Content-Type: application/json, e.g. ` + example)
	}
	raw, err := io.ReadAll(req.Body)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, fmt.Errorf("request body exceeds the limit of %d bytes", tooLarge.Limit)
	case err != nil:
		return http.StatusBadRequest, fmt.Errorf("could not read the request body: %s", truncate(err.Error(), 200))
	}
	if trimmed := bytes.TrimSpace(raw); len(trimmed) == 0 || trimmed[0] != '{' {
		return http.StatusBadRequest, errors.New(`the body must be a JSON object, e.g. ` + example)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err = dec.Decode(dst); err != nil {
		return http.StatusBadRequest, fmt.Errorf("invalid JSON body: %s", truncate(err.Error(), 200))
	}
	if _, err = dec.Token(); !errors.Is(err, io.EOF) {
		return http.StatusBadRequest, errors.New("invalid JSON body: data after the object")
	}
	return 0, nil
}

// check applies the rules of by and note. PostgreSQL cannot store NUL in
// text, and SQLite can: both are refused alike, here.
func (b *actionJSON) check() (action, error) {
	by, err := person("by", b.By)
	if err != nil {
		return action{}, err
	}
	if err := note("note", b.Note); err != nil {
		return action{}, err
	}
	return action{by: by, note: b.Note}, nil
}

// person checks who acts (field by, created_by): required, 1 to 200
// characters, no control characters.
func person(field string, v *string) (string, error) {
	if v == nil {
		return "", errors.New(field + " is required: who acts, 1 to 200 characters")
	}
	who := strings.TrimSpace(*v)
	switch n := utf8.RuneCountInString(who); {
	case n == 0:
		return "", errors.New(field + " must not be blank: who acts, 1 to 200 characters")
	case n > maxByChars:
		return "", fmt.Errorf("%s is %d characters long, more than %d", field, n, maxByChars)
	case strings.IndexFunc(who, unicode.IsControl) >= 0:
		return "", errors.New(field + " must not contain control characters")
	case strings.IndexFunc(who, invisible) >= 0:
		// A right-to-left override or a zero-width space shows another name.
		return "", errors.New(field + " must not contain invisible or direction-changing characters")
	}
	return who, nil
}

// invisible: a format character (a direction override, a zero-width one)
// or a line or paragraph separator.
func invisible(r rune) bool { return unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) }

// note checks what a person wrote (note, comment): at most 4 KiB, no NUL.
func note(field, v string) error {
	if len(v) > maxNoteBytes {
		return fmt.Errorf("%s is %d bytes long, more than %d (4 KiB)", field, len(v), maxNoteBytes)
	}
	if strings.ContainsRune(v, 0) {
		return errors.New(field + " must not contain NUL characters")
	}
	return nil
}
