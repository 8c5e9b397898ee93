package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
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
// Prometheus push) without decoding them and stops at the first one past the
// limit, so that a body of a few hundred thousand alerts is refused in
// milliseconds instead of being decoded into gigabytes. A body it cannot
// follow is left to the parser, which says what is wrong with it.
func alertsOver(body []byte, kind payloadKind, limit int) bool {
	// Each alert takes at least two bytes ("1,"): a shorter body cannot be over.
	if len(body) <= 2*limit {
		return false
	}
	it := jsoniter.ConfigFastest.BorrowIterator(body)
	defer jsoniter.ConfigFastest.ReturnIterator(it)
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
