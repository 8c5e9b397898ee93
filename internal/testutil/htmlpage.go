package testutil

import (
	"strings"

	"golang.org/x/net/html"
)

// Page is an HTML page as a browser would parse it.
type Page struct {
	// Text is every text node, blanks collapsed to one space.
	Text string
	// Live is what could run or load from the page's data: script,
	// iframe and object elements, on* attributes, javascript: addresses.
	Live []string
	// Links are the href values, in document order.
	Links []string
}

// ParsePage parses an HTML document.
func ParsePage(doc string) (Page, error) {
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		return Page{}, err
	}
	var p Page
	var text strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.ElementNode:
			if n.Data == "script" || n.Data == "iframe" || n.Data == "object" {
				p.Live = append(p.Live, "<"+n.Data+">")
			}
			for _, a := range n.Attr {
				if strings.HasPrefix(strings.ToLower(a.Key), "on") {
					p.Live = append(p.Live, a.Key+"="+a.Val)
				}
				if a.Key == "href" || a.Key == "src" {
					if strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
						p.Live = append(p.Live, a.Key+"="+a.Val)
					}
					if a.Key == "href" {
						p.Links = append(p.Links, a.Val)
					}
				}
			}
		case html.TextNode:
			text.WriteString(n.Data)
			text.WriteString(" ")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	p.Text = strings.Join(strings.Fields(text.String()), " ")
	return p, nil
}
