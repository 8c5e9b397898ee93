package incident

import "slices"

// FNV-1a 64 constants, as in Prometheus' model.LabelsToSignature.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
	separator   = 0xff
)

// Fingerprint computes an alert's fingerprint exactly as Alertmanager does:
// FNV-1a 64 over the label names in sorted order, each name and value followed
// by a 0xFF byte, printed as 16 lowercase hex digits. Labels named in ignore
// are left out, so that HA pairs differing only by a replica label share one
// fingerprint.
func Fingerprint(labels map[string]string, ignore map[string]struct{}) string {
	names := make([]string, 0, len(labels))
	for name := range labels {
		if _, skip := ignore[name]; skip {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	h := uint64(fnvOffset64)
	for _, name := range names {
		h = hashString(h, name)
		h = hashByte(h, separator)
		h = hashString(h, labels[name])
		h = hashByte(h, separator)
	}
	const hexDigits = "0123456789abcdef"
	var out [16]byte
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = hexDigits[h&0xf]
		h >>= 4
	}
	return string(out[:])
}

func hashString(h uint64, s string) uint64 {
	for i := range len(s) {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}

func hashByte(h uint64, b byte) uint64 {
	h ^= uint64(b)
	h *= fnvPrime64
	return h
}
