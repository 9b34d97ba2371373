// Package jsonsize measures strings as encoding/json writes them, so that bounds on stored
// values are bounds on the stored bytes: a control character or '<' takes six bytes there, not
// one, and a bound on len(s) alone would let a hostile value grow sixfold.
package jsonsize

import (
	"fmt"
	"hash/fnv"
	"unicode/utf8"
)

// Len is the length of s as a JSON string literal written by encoding/json.Marshal, quotes
// included (HTML characters and U+2028/U+2029 escaped, invalid UTF-8 as \ufffd).
func Len(s string) int {
	n := 2
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			n += int(asciiLen[b])
			i++
			continue
		}
		w, size := runeLen(s[i:])
		n += w
		i += size
	}
	return n
}

// runeLen returns the JSON bytes and the input bytes of the non-ASCII rune s starts with.
func runeLen(s string) (w, size int) {
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
		return 6, size
	}
	return size, size
}

// asciiLen is the JSON length of each ASCII byte.
var asciiLen = func() (t [utf8.RuneSelf]uint8) {
	for b := range t {
		switch {
		case b == '"' || b == '\\' || b == '\b' || b == '\f' || b == '\n' || b == '\r' || b == '\t':
			t[b] = 2
		case b < 0x20 || b == '<' || b == '>' || b == '&':
			t[b] = 6
		default:
			t[b] = 1
		}
	}
	return t
}()

// Truncate returns s if Len(s) <= limit, else a prefix of s followed by "…(<n> bytes, fnv
// <hash>)", Len of which is at most limit. The length and hash of the whole value keep two
// long values that share a prefix apart, and say that and how much was cut. limit must leave
// room for that suffix (64 bytes is enough).
func Truncate(s string, limit int) string {
	if Len(s) <= limit {
		return s
	}
	h := fnv.New64a()
	h.Write([]byte(s))
	suffix := fmt.Sprintf("…(%d bytes, fnv %016x)", len(s), h.Sum64())
	room := limit - Len(suffix) // the suffix has no escapes; its quotes stand for the result's
	n, end := 0, 0
	for i := 0; i < len(s); {
		w, size := 1, 1
		if b := s[i]; b < utf8.RuneSelf {
			w = int(asciiLen[b])
		} else {
			w, size = runeLen(s[i:])
		}
		if n+w > room {
			break
		}
		n += w
		i += size
		end = i
	}
	return s[:end] + suffix
}
