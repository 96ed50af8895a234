// Package csvstream streams a CSV object, validates every record against a
// schema, and writes the valid records to one destination and the rejected
// ones, with their reasons, to another.
//
// Data flows one way: an ObjectReader (or any io.Reader) feeds a Scanner,
// which splits the bytes into Records; a Validator checks each Record; valid
// records go to an ObjectWriter, which packs them into parts of a multipart
// upload. Every piece of state belongs to the value one job creates, so
// nothing carries over from one job to the next.
package csvstream
