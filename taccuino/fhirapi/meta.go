package fhirapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// member is one member of a JSON object, in order.
type member struct {
	key string
	val json.RawMessage
}

// objectMembers reads a JSON object's members in order.
func objectMembers(b []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	var out []member
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, ok := t.(string)
		if !ok {
			return nil, errors.New("bad JSON object key")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, member{k, v})
	}
	return out, nil
}

// writeObject writes members as a JSON object.
func writeObject(ms []member) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.val)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// set replaces key's value in ms, or inserts it after the member named
// after (or at the end).
func set(ms []member, key string, val json.RawMessage, after string) []member {
	for i := range ms {
		if ms[i].key == key {
			ms[i].val = val
			return ms
		}
	}
	for i := range ms {
		if ms[i].key == after {
			ms = append(ms[:i+1], append([]member{{key, val}}, ms[i+1:]...)...)
			return ms
		}
	}
	return append(ms, member{key, val})
}

// withMeta returns a stored resource as the API serves it: its id
// replaced by the API's id, and meta.versionId and meta.lastUpdated set
// (the other members, meta.profile included, as stored, in their order).
func withMeta(body []byte, id string, version int, updated time.Time) ([]byte, error) {
	ms, err := objectMembers(body)
	if err != nil {
		return nil, fmt.Errorf("fhirapi: stored resource: %w", err)
	}
	idJSON, _ := json.Marshal(id)
	ms = set(ms, "id", idJSON, "resourceType")
	var meta []member
	for _, m := range ms {
		if m.key == "meta" {
			if meta, err = objectMembers(m.val); err != nil {
				return nil, fmt.Errorf("fhirapi: stored resource meta: %w", err)
			}
		}
	}
	ver, _ := json.Marshal(strconv.Itoa(version))
	upd, _ := json.Marshal(updated.UTC().Format(time.RFC3339Nano))
	meta = set(meta, "versionId", ver, "")
	meta = set(meta, "lastUpdated", upd, "versionId")
	ms = set(ms, "meta", writeObject(meta), "id")
	return writeObject(ms), nil
}
