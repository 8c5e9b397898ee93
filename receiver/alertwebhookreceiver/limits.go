package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"io"
	"strings"

	jsoniter "github.com/json-iterator/go"
)

// Bounds of one alert. Real alerts carry tens of labels of tens of bytes;
// these keep one hostile alert from turning into megabytes of attributes,
// index entries and JSON columns. An alert over one is rejected alone.
const (
	maxLabels      = 1000
	maxAnnotations = 1000
	// maxLabelBytes bounds the label names and values of one alert together:
	// the labels are hashed into the fingerprint and stored with every incident.
	maxLabelBytes = 64 << 10
)

// alertsOver reports whether a payload holds more than limit alerts. It
// counts the elements of the alerts array (the top-level array of a
// Prometheus push) as they are read, without decoding them, and stops at the
// first one past the limit. A body it cannot follow is left to the parser,
// which says what is wrong with it.
func alertsOver(body io.Reader, kind payloadKind, limit int) bool {
	it := jsoniter.Parse(jsoniter.ConfigFastest, body, 32<<10)
	over := false
	count := func(it *jsoniter.Iterator) {
		n := 0
		it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
			n++
			if n > limit {
				over = true
				return false
			}
			it.Skip()
			return it.Error == nil
		})
	}
	if kind == kindPrometheusPush {
		count(it)
		return over
	}
	it.ReadObjectCB(func(it *jsoniter.Iterator, field string) bool {
		// Field names match case-insensitively, as the decoder matches them.
		if strings.EqualFold(field, "alerts") && it.WhatIsNext() == jsoniter.ArrayValue {
			count(it)
		} else {
			it.Skip()
		}
		return !over && it.Error == nil
	})
	return over
}
