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
	mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return action{}, http.StatusUnsupportedMediaType,
			errors.New(`the body must be JSON, sent with Content-Type: application/json, e.g. {"by":"alice","note":"looking"}`)
	}
	raw, err := io.ReadAll(req.Body)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return action{}, http.StatusRequestEntityTooLarge, fmt.Errorf("request body exceeds the limit of %d bytes", tooLarge.Limit)
	case err != nil:
		return action{}, http.StatusBadRequest, fmt.Errorf("could not read the request body: %s", truncate(err.Error(), 200))
	}
	if trimmed := bytes.TrimSpace(raw); len(trimmed) == 0 || trimmed[0] != '{' {
		return action{}, http.StatusBadRequest, errors.New(`the body must be a JSON object, e.g. {"by":"alice","note":"looking"}`)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var body actionJSON
	if err = dec.Decode(&body); err != nil {
		return action{}, http.StatusBadRequest, fmt.Errorf("invalid JSON body: %s", truncate(err.Error(), 200))
	}
	if _, err = dec.Token(); !errors.Is(err, io.EOF) {
		return action{}, http.StatusBadRequest, errors.New("invalid JSON body: data after the object")
	}
	checked, err := body.check()
	if err != nil {
		return action{}, http.StatusBadRequest, err
	}
	return checked, 0, nil
}

// check applies the rules of by and note. PostgreSQL cannot store NUL in
// text, and SQLite can: both are refused alike, here.
func (b *actionJSON) check() (action, error) {
	if b.By == nil {
		return action{}, errors.New("by is required: who acts, 1 to 200 characters")
	}
	by := strings.TrimSpace(*b.By)
	switch n := utf8.RuneCountInString(by); {
	case n == 0:
		return action{}, errors.New("by must not be blank: who acts, 1 to 200 characters")
	case n > maxByChars:
		return action{}, fmt.Errorf("by is %d characters long, more than %d", n, maxByChars)
	case strings.IndexFunc(by, unicode.IsControl) >= 0:
		return action{}, errors.New("by must not contain control characters")
	}
	if len(b.Note) > maxNoteBytes {
		return action{}, fmt.Errorf("note is %d bytes long, more than %d (4 KiB)", len(b.Note), maxNoteBytes)
	}
	if strings.ContainsRune(b.Note, 0) {
		return action{}, errors.New("note must not contain NUL characters")
	}
	return action{by: by, note: b.Note}, nil
}
