package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"bytes"
	"encoding/json"

	"go.uber.org/zap"
)

// Amazon SNS asks an HTTP(S) subscriber to confirm its subscription by
// posting a message whose SubscribeURL must be opened once. The receiver
// never opens it: a URL in a request is the sender's to choose, and fetching
// it would let anyone holding the integration's secret make the collector
// call any address. It logs the URL instead, for the operator to open (or to
// confirm with the SubscribeURL's Token through the SNS API).

// snsMessageTypeHeader says what an SNS message is: SubscriptionConfirmation,
// Notification or UnsubscribeConfirmation.
const snsMessageTypeHeader = "X-Amz-Sns-Message-Type"

// snsConfirmation is a subscription (or unsubscribe) confirmation message.
type snsConfirmation struct {
	Type         string `json:"Type"`
	TopicArn     string `json:"TopicArn"`
	SubscribeURL string `json:"SubscribeURL"`
}

// maxLoggedURL bounds the URL written to the log.
const maxLoggedURL = 2048

// isSNSConfirmation: the message asks to confirm (or tells of the end of)
// a subscription, and is no alert.
func isSNSConfirmation(messageType string) bool {
	return messageType == "SubscriptionConfirmation" || messageType == "UnsubscribeConfirmation"
}

func parseSNSConfirmation(body []byte) (*snsConfirmation, error) {
	body = bytes.Trim(body, jsonSpace)
	if err := checkTopLevel(body, '{', "a JSON object (an Amazon SNS message)"); err != nil {
		return nil, err
	}
	var c snsConfirmation
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, describeJSONError(err)
	}
	if c.SubscribeURL == "" {
		return nil, invalidPayload("Amazon SNS %s without a SubscribeURL", truncate(c.Type, 64))
	}
	return &c, nil
}

// snsConfirmationBody answers SNS: a 200 is all it needs.
type snsConfirmationBody struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// confirmSNS logs a confirmation message with its URL, at info level so that
// the operator sees it, and answers it.
func (r *alertReceiver) confirmSNS(ep *endpoint, c *snsConfirmation) snsConfirmationBody {
	msg := "Amazon SNS asks to confirm a subscription: open the SubscribeURL once to confirm it (the collector never opens it)"
	if c.Type == "UnsubscribeConfirmation" {
		msg = "Amazon SNS ended a subscription: open the SubscribeURL to subscribe again (the collector never opens it)"
	}
	r.logger.Info(msg,
		zap.String("integration", ep.id), zap.String("type", truncate(c.Type, 64)),
		zap.String("topic_arn", truncate(c.TopicArn, 256)), zap.String("subscribe_url", truncate(c.SubscribeURL, maxLoggedURL)))
	return snsConfirmationBody{
		Status:  "confirmation_logged",
		Message: "Amazon SNS " + truncate(c.Type, 64) + " logged with its SubscribeURL; the collector never opens it",
	}
}
