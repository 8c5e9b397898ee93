package store // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter/internal/store"

import (
	"fmt"
	"strings"
	"time"
)

// colType is a column's type as the statements bind, cast and read it.
type colType int

const (
	colText colType = iota
	colNullText
	colUUID
	colNullUUID
	colTime
	colNullTime
	colInt
)

func (t colType) nullable() bool { return t == colNullText || t == colNullUUID || t == colNullTime }

// field is one column of a table and the Go value it holds. One list of
// fields per table drives the SQL text (names, casts), the order values are
// bound in, and the scan of what is read, so the three cannot drift apart.
type field[R any] struct {
	name string
	typ  colType
	// ref points at the row's value: *string, *int64 or *time.Time. Nil for
	// a column written with the transaction's time (created_at, updated_at).
	ref func(*R) any
}

// table is a table's fields.
type table[R any] struct {
	name, alias string
	fields      []field[R]
}

// pick is the fields with these names, in this order.
func (t table[R]) pick(names ...string) []field[R] {
	out := make([]field[R], 0, len(names))
	for _, n := range names {
		i := t.index(n)
		if i < 0 {
			panic(fmt.Sprintf("store: table %s has no column %s", t.name, n))
		}
		out = append(out, t.fields[i])
	}
	return out
}

func (t table[R]) index(name string) int {
	for i, f := range t.fields {
		if f.name == name {
			return i
		}
	}
	return -1
}

func names[R any](fs []field[R]) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.name
	}
	return strings.Join(parts, ", ")
}

func types[R any](fs []field[R]) []colType {
	out := make([]colType, len(fs))
	for i, f := range fs {
		out[i] = f.typ
	}
	return out
}

// selectList reads fields through the table's alias; ids are read as text.
func (t table[R]) selectList(fs []field[R]) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		col := t.alias + "." + f.name
		if f.typ == colUUID || f.typ == colNullUUID {
			col = "CAST(" + col + " AS TEXT)"
		}
		parts[i] = col
	}
	return strings.Join(parts, ", ")
}

// bind appends r's values of fs, as the engine stores them; at is the
// transaction's time.
func bind[R any](args []any, r *R, fs []field[R], d dialect, at time.Time) []any {
	for _, f := range fs {
		if f.ref == nil {
			args = append(args, d.ts(at))
			continue
		}
		switch p := f.ref(r).(type) {
		case *string:
			if f.typ.nullable() && *p == "" {
				args = append(args, nil)
			} else {
				args = append(args, *p)
			}
		case *int64:
			args = append(args, *p)
		case *time.Time:
			if f.typ.nullable() && p.IsZero() {
				args = append(args, nil)
			} else {
				args = append(args, d.ts(*p))
			}
		}
	}
	return args
}

// scanner reads rows of fs into new Rs and hands each to add.
func scanner[R any](fs []field[R], d dialect, add func(*R)) func(scan func(...any) error) error {
	return func(scan func(...any) error) error {
		r := new(R)
		dest := make([]any, len(fs))
		raw := make([]any, len(fs))
		for i, f := range fs {
			switch p := f.ref(r).(type) {
			case *int64:
				dest[i] = p
			case *string:
				if !f.typ.nullable() {
					dest[i] = p
					continue
				}
				dest[i] = &raw[i]
			default:
				dest[i] = &raw[i]
			}
		}
		if err := scan(dest...); err != nil {
			return err
		}
		for i, f := range fs {
			if dest[i] != &raw[i] {
				continue
			}
			switch p := f.ref(r).(type) {
			case *string:
				*p = textOf(raw[i])
			case *time.Time:
				if raw[i] != nil {
					*p = d.parseTS(raw[i])
				}
			}
		}
		add(r)
		return nil
	}
}

func textOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	default:
		return ""
	}
}
