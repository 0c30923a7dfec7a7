package taccuino

import (
	"errors"
	"net/http"
	"strings"

	"fsecgm/taccuino/locale"
	"fsecgm/taccuino/web"
)

// form is a form a person submitted that the page shows again: what they
// typed, and what is wrong next to each field, in their language, so that
// they correct it where they are instead of landing on an error page.
// A password is never kept.
type form struct {
	// Name says which form of the page it is ("period", "delegation",
	// "import", "connect-patient", "connect-follower", "credentials-<id>",
	// "conn-<id>", "find").
	Name string
	// Values holds what was typed, by field name.
	Values map[string]string
	// Errors holds the message of each field in error.
	Errors map[string]string
	// Error is about the whole form (no field to put it next to).
	Error string
	// Status is the answer's HTTP status (422 for invalid data).
	Status int
}

// Is reports whether the form shown again is name.
func (f *form) Is(name string) bool { return f != nil && f.Name == name }

// Val returns what was typed in field of form name, or def when that form
// was not submitted.
func (f *form) Val(name, field, def string) string {
	if f == nil || f.Name != name {
		return def
	}
	if v, ok := f.Values[field]; ok {
		return v
	}
	return def
}

// Checked reports whether the checkbox field of form name was ticked, or
// def when that form was not submitted.
func (f *form) Checked(name, field string, def bool) bool {
	if f == nil || f.Name != name {
		return def
	}
	return f.Values[field] != ""
}

// Err returns the message of field of form name ("" when none).
func (f *form) Err(name, field string) string {
	if f == nil || f.Name != name {
		return ""
	}
	return f.Errors[field]
}

// Summary returns the message about form name as a whole.
func (f *form) Summary(name string) string {
	if f == nil || f.Name != name {
		return ""
	}
	return f.Error
}

// First returns the first field of form name in error, in the order of
// fields, so that the page puts the focus there ("" when none).
func (f *form) First(name string, fields ...string) string {
	if f == nil || f.Name != name {
		return ""
	}
	for _, fl := range fields {
		if f.Errors[fl] != "" {
			return fl
		}
	}
	return ""
}

// formError turns err, the refusal of a form, into the form to show again
// with what was typed (values) and the message next to the field it
// names. fields maps the error's Field (a form field, a JSON pointer such
// as "/email") to the form's field; an error about none goes to the whole
// form. It returns false for an error that is not about the person's input
// (a refusal by the rules, a failure of the service): those keep their
// error page.
func formError(l locale.Lang, name string, err error, values map[string]string, fields ...string) (*form, bool) {
	var we *web.Error
	if !errors.As(err, &we) {
		return nil, false
	}
	switch we.Status {
	case http.StatusUnprocessableEntity, http.StatusBadRequest, http.StatusConflict, http.StatusNotFound,
		http.StatusRequestEntityTooLarge:
	default:
		return nil, false
	}
	if we.Status == http.StatusNotFound && we.Key == "" {
		return nil, false
	}
	msg := we.Text(l)
	if msg == "" {
		switch we.Status {
		case http.StatusConflict:
			msg = l.T("err_conflict")
		case http.StatusNotFound:
			msg = l.T("err_not_found")
		default:
			msg = l.T("err_invalid")
		}
	}
	f := &form{Name: name, Values: values, Errors: map[string]string{}, Status: we.Status}
	field := strings.TrimPrefix(we.Field, "/")
	for _, fl := range fields {
		if fl == field {
			f.Errors[fl] = msg
			return f, true
		}
	}
	f.Error = msg
	return f, true
}
