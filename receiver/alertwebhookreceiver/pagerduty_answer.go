package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"net/http"
	"strings"
)

// PagerDuty's answers, which its senders read: 202 for every valid event,
// whatever it did (PagerDuty's API is asynchronous: an acknowledge of an
// unknown alert is accepted too), {status, message, errors} otherwise.

// pdAccepted is the answer to a valid event, with the key of its alert (the
// sender's dedup_key, or the one computed for it).
type pdAccepted struct {
	Status   string `json:"status"`
	Message  string `json:"message"`
	DedupKey string `json:"dedup_key"`
}

func (pdAccepted) httpStatus() int { return http.StatusAccepted }

func acceptedEvent(dedupKey string) pdAccepted {
	return pdAccepted{Status: "success", Message: "Event processed", DedupKey: dedupKey}
}

// pdErrorBody is PagerDuty's error shape.
type pdErrorBody struct {
	Status  string   `json:"status"`
	Message string   `json:"message"`
	Errors  []string `json:"errors,omitempty"`
}

// pagerDutyError is f in PagerDuty's shape: a 400 is PagerDuty's "invalid
// event" naming each problem; any other answer has a short status (its
// HTTP reason, lower case) and the receiver's detail as its message.
func pagerDutyError(f failure) pdErrorBody {
	switch {
	case f.status == http.StatusBadRequest:
		problems := f.problems
		if len(problems) == 0 {
			problems = []string{f.detail}
		}
		return pdErrorBody{Status: "invalid event", Message: "Event object is invalid", Errors: problems}
	case f.refusal == reasonSecret:
		return pdErrorBody{Status: "forbidden", Message: "Invalid routing key"}
	}
	return pdErrorBody{Status: strings.ToLower(http.StatusText(f.status)), Message: f.detail}
}
