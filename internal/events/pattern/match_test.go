package pattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

type matchCase struct {
	name    string
	pattern string
	event   string
	want    bool
}

// ec2Event is the example event of
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html
const ec2Event = `{
  "version": "0",
  "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
  "detail-type": "EC2 Instance State-change Notification",
  "source": "aws.ec2",
  "account": "111122223333",
  "time": "2017-12-22T18:43:48Z",
  "region": "us-west-1",
  "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
  "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"}
}`

// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html
var docEventPatternCases = []matchCase{
	{"ec2 termination", `{"source":["aws.ec2"],"detail-type":["EC2 Instance State-change Notification"],"detail":{"state":["terminated"]}}`, ec2Event, true},
	{"ec2 other state", `{"source":["aws.ec2"],"detail-type":["EC2 Instance State-change Notification"],"detail":{"state":["running"]}}`, ec2Event, false},
	{"ec2 other source", `{"source":["aws.s3"],"detail":{"state":["terminated"]}}`, ec2Event, false},
	{"fields are case sensitive", `{"source":["AWS.EC2"]}`, ec2Event, false},
	{"key is case sensitive", `{"Source":["aws.ec2"]}`, ec2Event, false},
	{"empty pattern matches all", `{}`, ec2Event, true},
	{"empty pattern matches empty event", `{}`, `{}`, true},
	{"nested field missing", `{"detail":{"instance-type":["t2.micro"]}}`, ec2Event, false},
	{"nested pattern on a string", `{"source":{"x":["aws.ec2"]}}`, ec2Event, false},
	{"leaf pattern on an object", `{"detail":["terminated"]}`, ec2Event, false},
}

// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html
var docArrayCases = []matchCase{
	{"pattern array intersects event array", `{"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f","arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f","arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"]}`,
		`{"resources":["arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate","arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}`, true},
	{"disjoint arrays", `{"resources":["arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f"]}`,
		`{"resources":["arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:x","arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}`, false},
	{"empty event array", `{"resources":["a"]}`, `{"resources":[]}`, false},
	{"nested event arrays flatten", `{"a":[3]}`, `{"a":[[1,2],[3]]}`, true},
	{"objects in leaf array are skipped", `{"a":["x"]}`, `{"a":[{"b":"x"},"y"]}`, false},
	// Arrays of objects: the nested pattern is tried on each element.
	{"array of objects", `{"employees":{"firstName":["Anna"]}}`, `{"employees":[{"firstName":"John","lastName":"Doe"},{"firstName":"Anna","lastName":"Smith"}]}`, true},
	{"array of objects, same element", `{"employees":{"firstName":["Anna"],"lastName":["Smith"]}}`, `{"employees":[{"firstName":"John","lastName":"Doe"},{"firstName":"Anna","lastName":"Smith"}]}`, true},
	{"array of objects, fields from different elements", `{"employees":{"firstName":["Anna"],"lastName":["Doe"]}}`, `{"employees":[{"firstName":"John","lastName":"Doe"},{"firstName":"Anna","lastName":"Smith"}]}`, false},
	{"nested arrays of objects", `{"employees":{"firstName":["Peter"]}}`, `{"employees":[[{"firstName":"John"}],[{"firstName":"Peter"}]]}`, true},
	{"deep path through arrays", `{"detail":{"resources":{"details":{"awsEcrContainerImage":{"imageTags":["latest"]}}}}}`,
		`{"detail":{"resources":[{"details":{"awsEcrContainerImage":{"imageTags":["v1","latest"]}}}]}}`, true},
	{"$or inside array element", `{"e":{"$or":[{"a":["1"]},{"b":["2"]}],"c":["3"]}}`, `{"e":[{"a":"1","c":"x"},{"b":"2","c":"3"}]}`, true},
	{"$or must hold in one element", `{"e":{"$or":[{"a":["1"]},{"b":["2"]}],"c":["3"]}}`, `{"e":[{"a":"1","c":"x"},{"b":"x","c":"3"}]}`, false},
}

// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-null-values.html
const autoscalingEvent = `{
  "version": "0",
  "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
  "detail-type": "EC2 Instance Launch Successful",
  "source": "aws.autoscaling",
  "account": "123456789012",
  "time": "2015-11-11T21:31:47Z",
  "region": "us-east-1",
  "resources": [],
  "detail": {"eventVersion": "", "responseElements": null}
}`

// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-null-values.html
var docNullCases = []matchCase{
	{"empty string", `{"detail":{"eventVersion":[""]}}`, autoscalingEvent, true},
	{"null", `{"detail":{"responseElements":[null]}}`, autoscalingEvent, true},
	{"empty string does not match null", `{"detail":{"responseElements":[""]}}`, autoscalingEvent, false},
	{"null does not match empty string", `{"detail":{"eventVersion":[null]}}`, autoscalingEvent, false},
	{"null does not match missing key", `{"detail":{"requestParameters":[null]}}`, autoscalingEvent, false},
	{"empty string does not match missing key", `{"detail":{"other":[""]}}`, autoscalingEvent, false},
	{"null does not match the string null", `{"a":[null]}`, `{"a":"null"}`, false},
	{"null in an event array", `{"a":[null]}`, `{"a":[1,null]}`, true},
}

// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html
var docPrefixSuffixCases = []matchCase{
	{"prefix", `{"time":[{"prefix":"2017-10-02"}]}`, `{"time":"2017-10-02T18:43:48Z"}`, true},
	{"prefix mismatch", `{"time":[{"prefix":"2017-10-02"}]}`, `{"time":"2017-10-03T18:43:48Z"}`, false},
	{"prefix is case sensitive", `{"service":[{"prefix":"EventB"}]}`, `{"service":"eventbridge"}`, false},
	{"prefix ignore case", `{"service":[{"prefix":{"equals-ignore-case":"EventB"}}]}`, `{"service":"EVENTBRIDGE"}`, true},
	{"prefix ignore case lower", `{"service":[{"prefix":{"equals-ignore-case":"EventB"}}]}`, `{"service":"eventbridge"}`, true},
	{"prefix ignore case mismatch", `{"service":[{"prefix":{"equals-ignore-case":"EventB"}}]}`, `{"service":"lambda"}`, false},
	{"suffix", `{"FileName":[{"suffix":".png"}]}`, `{"FileName":"image.png"}`, true},
	{"suffix mismatch", `{"FileName":[{"suffix":".png"}]}`, `{"FileName":"image.PNG"}`, false},
	{"suffix ignore case", `{"FileName":[{"suffix":{"equals-ignore-case":".png"}}]}`, `{"FileName":"image.PNG"}`, true},
	{"suffix ignore case mismatch", `{"FileName":[{"suffix":{"equals-ignore-case":".png"}}]}`, `{"FileName":"image.jpg"}`, false},
	{"prefix only on strings", `{"n":[{"prefix":"1"}]}`, `{"n":123}`, false},
	{"suffix only on strings", `{"b":[{"suffix":"ue"}]}`, `{"b":true}`, false},
	{"empty prefix matches any string", `{"s":[{"prefix":""}]}`, `{"s":""}`, true},
	{"empty prefix does not match a number", `{"s":[{"prefix":""}]}`, `{"s":0}`, false},
	{"prefix in event array", `{"r":[{"prefix":"arn:aws:ecr:"}]}`, `{"r":["x","arn:aws:ecr:local:1:repository/a"]}`, true},
	{"prefix ignore case multibyte", `{"s":[{"prefix":{"equals-ignore-case":"ÉCOLE"}}]}`, `{"s":"école primaire"}`, true},
	{"suffix ignore case multibyte", `{"s":[{"suffix":{"equals-ignore-case":"STRASSE"}}]}`, `{"s":"hauptstrasse"}`, true},
	{"prefix longer than value", `{"s":[{"prefix":{"equals-ignore-case":"abcd"}}]}`, `{"s":"ABC"}`, false},
}

// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html
var docAnythingButCases = []matchCase{
	{"string", `{"detail":{"state":[{"anything-but":"initializing"}]}}`, `{"detail":{"state":"running"}}`, true},
	{"string excluded", `{"detail":{"state":[{"anything-but":"initializing"}]}}`, `{"detail":{"state":"initializing"}}`, false},
	{"number", `{"detail":{"x-limit":[{"anything-but":123}]}}`, `{"detail":{"x-limit":456}}`, true},
	{"number excluded", `{"detail":{"x-limit":[{"anything-but":123}]}}`, `{"detail":{"x-limit":123}}`, false},
	{"number excluded in another form", `{"detail":{"x-limit":[{"anything-but":123}]}}`, `{"detail":{"x-limit":1.23e2}}`, false},
	{"string list", `{"detail":{"state":[{"anything-but":["stopped","overloaded"]}]}}`, `{"detail":{"state":"running"}}`, true},
	{"string list excluded", `{"detail":{"state":[{"anything-but":["stopped","overloaded"]}]}}`, `{"detail":{"state":"overloaded"}}`, false},
	{"number list", `{"detail":{"x-limit":[{"anything-but":[100,200,300]}]}}`, `{"detail":{"x-limit":150}}`, true},
	{"number list excluded", `{"detail":{"x-limit":[{"anything-but":[100,200,300]}]}}`, `{"detail":{"x-limit":300.0}}`, false},
	{"prefix", `{"detail":{"state":[{"anything-but":{"prefix":"init"}}]}}`, `{"detail":{"state":"running"}}`, true},
	{"prefix excluded", `{"detail":{"state":[{"anything-but":{"prefix":"init"}}]}}`, `{"detail":{"state":"initializing"}}`, false},
	{"suffix", `{"detail":{"FileName":[{"anything-but":{"suffix":".txt"}}]}}`, `{"detail":{"FileName":"notes.md"}}`, true},
	{"suffix excluded", `{"detail":{"FileName":[{"anything-but":{"suffix":".txt"}}]}}`, `{"detail":{"FileName":"notes.txt"}}`, false},
	{"ignore case", `{"detail":{"state":[{"anything-but":{"equals-ignore-case":["Stopped","OverLoaded"]}}]}}`, `{"detail":{"state":"running"}}`, true},
	{"ignore case excluded", `{"detail":{"state":[{"anything-but":{"equals-ignore-case":["Stopped","OverLoaded"]}}]}}`, `{"detail":{"state":"STOPPED"}}`, false},
	{"ignore case single", `{"state":[{"anything-but":{"equals-ignore-case":"initializing"}}]}`, `{"state":"INITIALIZING"}`, false},
	{"wildcard", `{"FilePath":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, `{"FilePath":"/usr/bin/env"}`, true},
	{"wildcard excluded", `{"FilePath":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, `{"FilePath":"/usr/lib/libc.so"}`, false},
	{"wildcard list excluded", `{"FilePath":[{"anything-but":{"wildcard":["*/lib/*","*/bin/*.jar"]}}]}`, `{"FilePath":"/opt/bin/app.jar"}`, false},
	{"wildcard list", `{"FilePath":[{"anything-but":{"wildcard":["*/lib/*","*/bin/*.jar"]}}]}`, `{"FilePath":"/opt/bin/app"}`, true},
	// A missing key has no value that is "anything but".
	{"missing key", `{"detail":{"state":[{"anything-but":"initializing"}]}}`, `{"detail":{}}`, false},
	{"missing parent", `{"detail":{"state":[{"anything-but":"initializing"}]}}`, `{"source":"x"}`, false},
	{"string operand, number value", `{"v":[{"anything-but":"x"}]}`, `{"v":5}`, false},
	{"number operand, string value", `{"v":[{"anything-but":5}]}`, `{"v":"x"}`, false},
	{"number operand, numeric string", `{"v":[{"anything-but":5}]}`, `{"v":"6"}`, false},
	{"string operand, null value", `{"v":[{"anything-but":"x"}]}`, `{"v":null}`, false},
	{"prefix operand, boolean value", `{"v":[{"anything-but":{"prefix":"t"}}]}`, `{"v":true}`, false},
	{"object value", `{"v":[{"anything-but":"x"}]}`, `{"v":{"a":"b"}}`, false},
	{"event array with one other value", `{"price":[{"anything-but":[100,500]}]}`, `{"price":[100,50]}`, true},
	{"event array all excluded", `{"price":[{"anything-but":[100,500]}]}`, `{"price":[100,500]}`, false},
	{"empty string is a string", `{"v":[{"anything-but":"x"}]}`, `{"v":""}`, true},
}

// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html
var docNumericCases = []matchCase{
	{"all ranges", `{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"numeric":["=",3.018e2]}]}}`,
		`{"detail":{"c-count":5,"d-count":3,"x-limit":301.8}}`, true},
	{"upper bound excluded", `{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}]}}`, `{"detail":{"c-count":5.000001}}`, false},
	{"lower bound exclusive", `{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}]}}`, `{"detail":{"c-count":0}}`, false},
	{"lower bound exclusive, negative zero", `{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}]}}`, `{"detail":{"c-count":-0.0}}`, false},
	{"just above lower bound", `{"c":[{"numeric":[">",0,"<=",5]}]}`, `{"c":1e-9}`, true},
	{"less than", `{"d-count":[{"numeric":["<",10]}]}`, `{"d-count":10}`, false},
	{"less than, negative", `{"d-count":[{"numeric":["<",10]}]}`, `{"d-count":-1e9}`, true},
	{"equals in other notation", `{"x-limit":[{"numeric":["=",3.018e2]}]}`, `{"x-limit":301.80}`, true},
	{"equals, not equal", `{"x-limit":[{"numeric":["=",3.018e2]}]}`, `{"x-limit":301.81}`, false},
	{"numeric string does not match", `{"c":[{"numeric":[">",0]}]}`, `{"c":"5"}`, false},
	{"boolean does not match", `{"c":[{"numeric":[">=",0]}]}`, `{"c":true}`, false},
	{"at inclusive lower", `{"c":[{"numeric":[">=",1.5]}]}`, `{"c":15e-1}`, true},
	{"at inclusive upper", `{"c":[{"numeric":["<=",-2]}]}`, `{"c":-2.0}`, true},
	{"in event array", `{"c":[{"numeric":[">",7]}]}`, `{"c":[1,2,7.5]}`, true},
	{"event beyond the pattern range", `{"c":[{"numeric":[">",4e9]}]}`, `{"c":1e300}`, true},
	{"tiny difference is exact", `{"c":[{"numeric":["<",0.1]}]}`, `{"c":0.09999999999999999999999}`, true},
	{"range [>=5, <=5] is a point", `{"c":[{"numeric":[">=",5,"<=",5]}]}`, `{"c":5}`, true},
	{"two ranges OR", `{"c":[{"numeric":["<",0]},{"numeric":[">",10]}]}`, `{"c":11}`, true},
	{"two ranges OR, between", `{"c":[{"numeric":["<",0]},{"numeric":[">",10]}]}`, `{"c":5}`, false},
	// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
	{"price is 100", `{"Price":[{"numeric":["=",100]}]}`, `{"Price":100}`, true},
	{"price in (10, 20]", `{"Price":[{"numeric":[">",10,"<=",20]}]}`, `{"Price":20}`, true},
	{"price not in (10, 20]", `{"Price":[{"numeric":[">",10,"<=",20]}]}`, `{"Price":10}`, false},
}

// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html
var docCIDRCases = []matchCase{
	{"ipv4 inside", `{"detail":{"sourceIPAddress":[{"cidr":"10.0.0.0/24"}]}}`, `{"detail":{"sourceIPAddress":"10.0.0.255"}}`, true},
	{"ipv4 outside", `{"detail":{"sourceIPAddress":[{"cidr":"10.0.0.0/24"}]}}`, `{"detail":{"sourceIPAddress":"10.0.1.0"}}`, false},
	{"ipv4 host bits in the block", `{"ip":[{"cidr":"10.0.0.7/24"}]}`, `{"ip":"10.0.0.200"}`, true},
	{"ipv4 /32", `{"ip":[{"cidr":"192.168.1.1/32"}]}`, `{"ip":"192.168.1.1"}`, true},
	{"ipv4 /0", `{"ip":[{"cidr":"0.0.0.0/0"}]}`, `{"ip":"203.0.113.9"}`, true},
	{"ipv6 inside", `{"ip":[{"cidr":"2001:db8::/32"}]}`, `{"ip":"2001:db8:1234::1"}`, true},
	{"ipv6 outside", `{"ip":[{"cidr":"2001:db8::/32"}]}`, `{"ip":"2001:db9::1"}`, false},
	{"ipv6 address, ipv4 block", `{"ip":[{"cidr":"10.0.0.0/8"}]}`, `{"ip":"2001:db8::1"}`, false},
	{"ipv4-mapped ipv6 address", `{"ip":[{"cidr":"10.0.0.0/8"}]}`, `{"ip":"::ffff:10.1.2.3"}`, true},
	{"not an address", `{"ip":[{"cidr":"10.0.0.0/8"}]}`, `{"ip":"10.0.0"}`, false},
	{"address with a zone", `{"ip":[{"cidr":"fe80::/10"}]}`, `{"ip":"fe80::1%eth0"}`, false},
	{"number is not an address", `{"ip":[{"cidr":"10.0.0.0/8"}]}`, `{"ip":10}`, false},
	{"address in event array", `{"ip":[{"cidr":"10.0.0.0/8"}]}`, `{"ip":["192.168.0.1","10.9.9.9"]}`, true},
}

// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html
var docExistsCases = []matchCase{
	{"exists false, missing", `{"detail":{"c-count":[{"exists":false}]}}`,
		`{"detail-type":"EC2 Instance State-change Notification","detail":{"state":"running"}}`, true},
	{"exists false, object is not a leaf", `{"detail":{"c-count":[{"exists":false}]}}`,
		`{"detail":{"state":"running","c-count":{"c1":100}}}`, true},
	{"exists false, present", `{"detail":{"c-count":[{"exists":false}]}}`, `{"detail":{"c-count":5}}`, false},
	{"exists true, present", `{"detail":{"c-count":[{"exists":true}]}}`, `{"detail":{"c-count":5}}`, true},
	{"exists true, missing", `{"detail":{"c-count":[{"exists":true}]}}`, `{"detail":{}}`, false},
	{"exists true, object", `{"detail":{"c-count":[{"exists":true}]}}`, `{"detail":{"c-count":{"c1":100}}}`, false},
	{"exists true, null", `{"a":[{"exists":true}]}`, `{"a":null}`, true},
	{"exists false, null", `{"a":[{"exists":false}]}`, `{"a":null}`, false},
	{"exists true, empty string", `{"a":[{"exists":true}]}`, `{"a":""}`, true},
	{"exists true, empty array", `{"a":[{"exists":true}]}`, `{"a":[]}`, false},
	{"exists false, empty array", `{"a":[{"exists":false}]}`, `{"a":[]}`, true},
	{"exists true, array of leaves", `{"a":[{"exists":true}]}`, `{"a":[1]}`, true},
	{"exists true, array of objects", `{"a":[{"exists":true}]}`, `{"a":[{"b":1}]}`, false},
	{"exists false, array of objects", `{"a":[{"exists":false}]}`, `{"a":[{"b":1}]}`, true},
	{"exists true, nested empty arrays", `{"a":[{"exists":true}]}`, `{"a":[[],[]]}`, false},
	{"exists false, parent missing", `{"detail":{"x":[{"exists":false}]}}`, `{"source":"s"}`, true},
	{"exists false, parent is a string", `{"detail":{"x":[{"exists":false}]}}`, `{"detail":"s"}`, true},
	{"exists false, parent empty array", `{"detail":{"x":[{"exists":false}]}}`, `{"detail":[]}`, true},
	{"exists true, parent missing", `{"detail":{"x":[{"exists":true}]}}`, `{"source":"s"}`, false},
	{"exists false under array, one element lacks it", `{"e":{"m":[{"exists":false}]}}`, `{"e":[{"m":"x"},{"n":"y"}]}`, true},
	{"exists false under array, all have it", `{"e":{"m":[{"exists":false}]}}`, `{"e":[{"m":"x"},{"m":"y"}]}`, false},
	{"exists or value", `{"a":["x",{"exists":false}]}`, `{"b":1}`, true},
	{"exists or value, value", `{"a":["x",{"exists":false}]}`, `{"a":"x"}`, true},
	{"exists or value, other value", `{"a":["x",{"exists":false}]}`, `{"a":"y"}`, false},
	// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
	{"ProductName exists", `{"ProductName":[{"exists":true}]}`, `{"ProductName":"Widget"}`, true},
	{"ProductName does not exist", `{"ProductName":[{"exists":false}]}`, `{"ProductName":"Widget"}`, false},
}

// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
var docEqualsCases = []matchCase{
	{"equals", `{"Name":["Alice"]}`, `{"Name":"Alice"}`, true},
	{"equals is case sensitive", `{"Name":["Alice"]}`, `{"Name":"alice"}`, false},
	{"equals ignore case", `{"Name":[{"equals-ignore-case":"alice"}]}`, `{"Name":"ALICE"}`, true},
	{"equals ignore case, other", `{"Name":[{"equals-ignore-case":"alice"}]}`, `{"Name":"alicia"}`, false},
	{"equals ignore case, number", `{"Name":[{"equals-ignore-case":"1"}]}`, `{"Name":1}`, false},
	{"empty", `{"LastName":[""]}`, `{"LastName":""}`, true},
	{"empty, not empty", `{"LastName":[""]}`, `{"LastName":" "}`, false},
	{"or of values", `{"PaymentType":["Credit","Debit"]}`, `{"PaymentType":"Debit"}`, true},
	{"or of values, other", `{"PaymentType":["Credit","Debit"]}`, `{"PaymentType":"Cash"}`, false},
	{"and of fields", `{"Location":["New York"],"Day":["Monday"]}`, `{"Location":"New York","Day":"Monday"}`, true},
	{"and of fields, one fails", `{"Location":["New York"],"Day":["Monday"]}`, `{"Location":"New York","Day":"Tuesday"}`, false},
	{"null", `{"UserID":[null]}`, `{"UserID":null}`, true},
	{"anything but a list of one", `{"Weather":[{"anything-but":["Raining"]}]}`, `{"Weather":"Sunny"}`, true},
	{"true", `{"b":[true]}`, `{"b":true}`, true},
	{"true is not false", `{"b":[true]}`, `{"b":false}`, false},
	{"false", `{"b":[false]}`, `{"b":false}`, true},
	{"true is not the string", `{"b":[true]}`, `{"b":"true"}`, false},
	{"the string is not true", `{"b":["true"]}`, `{"b":true}`, false},
	{"many values use a set", `{"s":["a","b","c","d","e","f","g","h","i","j"]}`, `{"s":"j"}`, true},
	{"many values, none", `{"s":["a","b","c","d","e","f","g","h","i","j"]}`, `{"s":"k"}`, false},
	{"escaped strings compare decoded", `{"s":["a\u00e9\n"]}`, `{"s":"aé\u000a"}`, true},
	{"surrogate pair", `{"s":["\ud83d\ude00"]}`, `{"s":"😀"}`, true},
	{"ignore case, unicode", `{"s":[{"equals-ignore-case":"ΣΊΣΥΦΟΣ"}]}`, `{"s":"σίσυφος"}`, true},
}

// Numbers compare as numbers; see "Numeric matching" in
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html
var numberCases = []matchCase{
	{"300 is 3.0e2", `{"n":[300]}`, `{"n":3.0e2}`, true},
	{"3.0e2 is 300", `{"n":[3.0e2]}`, `{"n":300}`, true},
	{"5 is 5.0", `{"n":[5]}`, `{"n":5.0}`, true},
	{"5 is 5.000", `{"n":[5]}`, `{"n":5.000}`, true},
	{"0.5 is 5E-1", `{"n":[0.5]}`, `{"n":5E-1}`, true},
	{"0 is -0", `{"n":[0]}`, `{"n":-0}`, true},
	{"0 is 0e10", `{"n":[0]}`, `{"n":0e10}`, true},
	{"negative", `{"n":[-12.5]}`, `{"n":-1.25e1}`, true},
	{"sign matters", `{"n":[12.5]}`, `{"n":-12.5}`, false},
	{"300 is not 301", `{"n":[300]}`, `{"n":301}`, false},
	{"number is not string", `{"n":[300]}`, `{"n":"300"}`, false},
	{"string is not number", `{"n":["300"]}`, `{"n":300}`, false},
	{"exact beyond float precision", `{"n":[12345678901234567890]}`, `{"n":12345678901234567891}`, false},
	{"equal beyond float precision", `{"n":[12345678901234567890]}`, `{"n":1.234567890123456789e19}`, true},
	{"big exponent", `{"n":[1e400]}`, `{"n":10e399}`, true},
	{"tiny", `{"n":[1e-400]}`, `{"n":0}`, false},
	{"number in array", `{"n":[7]}`, `{"n":["7",7.0]}`, true},
}

// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html
var docWildcardCases = []matchCase{
	{"dir png", `{"FileName":[{"wildcard":"dir/*.png"}]}`, `{"FileName":"dir/dir2/image.png"}`, true},
	{"dir png mismatch", `{"FileName":[{"wildcard":"dir/*.png"}]}`, `{"FileName":"other/image.png"}`, false},
	{"event bus arn", `{"EventBusArn":[{"wildcard":"arn:aws:events:us-east-1:*:event-bus/*"}]}`, `{"EventBusArn":"arn:aws:events:us-east-1:123456789012:event-bus/default"}`, true},
	{"event bus arn other region", `{"EventBusArn":[{"wildcard":"arn:aws:events:us-east-1:*:event-bus/*"}]}`, `{"EventBusArn":"arn:aws:events:us-west-2:123456789012:event-bus/default"}`, false},
	{"star matches empty", `{"s":[{"wildcard":"ab*"}]}`, `{"s":"ab"}`, true},
	{"only a star", `{"s":[{"wildcard":"*"}]}`, `{"s":""}`, true},
	{"only a star, number", `{"s":[{"wildcard":"*"}]}`, `{"s":1}`, false},
	{"no star is exact", `{"s":[{"wildcard":"abc"}]}`, `{"s":"abcd"}`, false},
	{"middle star", `{"s":[{"wildcard":"Simple*Service"}]}`, `{"s":"Simple Notification Service"}`, true},
	{"overlapping ends", `{"s":[{"wildcard":"ab*ba"}]}`, `{"s":"aba"}`, false},
	{"ends touch", `{"s":[{"wildcard":"ab*ba"}]}`, `{"s":"abba"}`, true},
	{"segments in order", `{"s":[{"wildcard":"*a*b*"}]}`, `{"s":"xbxa"}`, false},
	{"segments in order, match", `{"s":[{"wildcard":"*a*b*"}]}`, `{"s":"xaxb"}`, true},
	{"escaped star", `{"s":[{"wildcard":"a\\*b"}]}`, `{"s":"a*b"}`, true},
	{"escaped star is literal", `{"s":[{"wildcard":"a\\*b"}]}`, `{"s":"axb"}`, false},
	{"escaped backslash", `{"s":[{"wildcard":"a\\\\*"}]}`, `{"s":"a\\bc"}`, true},
	{"escaped star then star", `{"s":[{"wildcard":"\\**"}]}`, `{"s":"*x"}`, true},
	{"case sensitive", `{"s":[{"wildcard":"*.PNG"}]}`, `{"s":"a.png"}`, false},
}

// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html
var docOrCases = []matchCase{
	{"numeric alternatives", `{"detail":{"$or":[{"c-count":[{"numeric":[">",0,"<=",5]}]},{"d-count":[{"numeric":["<",10]}]},{"x-limit":[{"numeric":["=",3.018e2]}]}]}}`,
		`{"detail":{"c-count":50,"d-count":3}}`, true},
	{"numeric alternatives, none", `{"detail":{"$or":[{"c-count":[{"numeric":[">",0,"<=",5]}]},{"d-count":[{"numeric":["<",10]}]},{"x-limit":[{"numeric":["=",3.018e2]}]}]}}`,
		`{"detail":{"c-count":50,"d-count":30,"x-limit":1}}`, false},
	{"source and alternatives", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization","ReadLatency"]},{"namespace":["AWS/EC2","AWS/ES"]}]}`,
		`{"source":"aws.cloudwatch","namespace":"AWS/ES"}`, true},
	{"source and alternatives, wrong source", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization","ReadLatency"]},{"namespace":["AWS/EC2","AWS/ES"]}]}`,
		`{"source":"aws.ec2","namespace":"AWS/ES"}`, false},
	{"top-level or of fields", `{"$or":[{"Location":["New York"]},{"Day":["Monday"]}]}`, `{"Location":"Boston","Day":"Monday"}`, true},
	{"top-level or of fields, neither", `{"$or":[{"Location":["New York"]},{"Day":["Monday"]}]}`, `{"Location":"Boston","Day":"Friday"}`, false},
	{"alternative with and", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"metricType":["MetricType"],"namespace":["AWS/EC2"]},{"scope":["Service"]}]}`,
		`{"source":"aws.cloudwatch","metricType":"MetricType","namespace":"AWS/EC2"}`, true},
	{"alternative with and, half", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"metricType":["MetricType"],"namespace":["AWS/EC2"]},{"scope":["Service"]}]}`,
		`{"source":"aws.cloudwatch","metricType":"MetricType","namespace":"AWS/ES"}`, false},
	{"nested or", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"metricType":["MetricType"],"$or":[{"metricId":[1234]},{"spaceId":[1000]}]}]}`,
		`{"source":"aws.cloudwatch","metricType":"MetricType","spaceId":1000}`, true},
	{"nested or, inner fails", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"metricType":["MetricType"],"$or":[{"metricId":[1234]},{"spaceId":[1000]}]}]}`,
		`{"source":"aws.cloudwatch","metricType":"MetricType","spaceId":1001}`, false},
	{"parallel ors", `{"$or":[{"metricName":["CPUUtilization"]},{"namespace":["AWS/EC2"]}],"detail":{"$or":[{"source":["aws.cloudwatch"]},{"detail-type":["CloudWatch Alarm State Change"]}]}}`,
		`{"namespace":"AWS/EC2","detail":{"detail-type":"CloudWatch Alarm State Change"}}`, true},
	{"parallel ors, second fails", `{"$or":[{"metricName":["CPUUtilization"]},{"namespace":["AWS/EC2"]}],"detail":{"$or":[{"source":["aws.cloudwatch"]},{"detail-type":["CloudWatch Alarm State Change"]}]}}`,
		`{"namespace":"AWS/EC2","detail":{"detail-type":"other"}}`, false},
	{"or with exists false", `{"$or":[{"a":[{"exists":false}]},{"a":["x"]}]}`, `{"b":1}`, true},
}

// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html
var docComplexCases = []matchCase{
	{"complex", `{"time":[{"prefix":"2017-10-02"}],"detail":{"state":[{"anything-but":"initializing"}],"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"anything-but":[100,200,300]}],"source-ip":[{"cidr":"10.0.0.0/8"}]}}`,
		`{"time":"2017-10-02T16:24:49Z","detail":{"c-count":5,"d-count":3,"x-limit":301.8,"source-ip":"10.0.0.33","instance-id":"i-000000aaaaaa00000","state":"running"}}`, true},
	{"complex, one field off", `{"time":[{"prefix":"2017-10-02"}],"detail":{"state":[{"anything-but":"initializing"}],"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"anything-but":[100,200,300]}],"source-ip":[{"cidr":"10.0.0.0/8"}]}}`,
		`{"time":"2017-10-02T16:24:49Z","detail":{"c-count":5,"d-count":3,"x-limit":300,"source-ip":"10.0.0.33","state":"running"}}`, false},
	{"mixed leaf operators", `{"s":["exact",{"prefix":"pre"},{"suffix":"post"},{"wildcard":"*mid*"}]}`, `{"s":"has mid inside"}`, true},
	{"mixed leaf operators, none", `{"s":["exact",{"prefix":"pre"},{"suffix":"post"},{"wildcard":"*mid*"}]}`, `{"s":"nothing"}`, false},
	{"dotted key is not a path", `{"a.b":["x"]}`, `{"a":{"b":"x"}}`, false},
	{"dotted key", `{"a.b":["x"]}`, `{"a.b":"x"}`, true},
	{"duplicate event keys, last wins", `{"a":["2"]}`, `{"a":"1","a":"2"}`, true},
	{"duplicate event keys, first loses", `{"a":["1"]}`, `{"a":"1","a":"2"}`, false},
}

var allMatchCases = map[string][]matchCase{
	"event-patterns": docEventPatternCases,
	"arrays":         docArrayCases,
	"null":           docNullCases,
	"prefix-suffix":  docPrefixSuffixCases,
	"anything-but":   docAnythingButCases,
	"numeric":        docNumericCases,
	"cidr":           docCIDRCases,
	"exists":         docExistsCases,
	"equals":         docEqualsCases,
	"numbers":        numberCases,
	"wildcard":       docWildcardCases,
	"or":             docOrCases,
	"complex":        docComplexCases,
}

// TestMatch runs every case through all three ways of matching: raw JSON,
// Go values decoded by encoding/json, and a Set holding only that pattern,
// which must agree with each other.
func TestMatch(t *testing.T) {
	for group, cases := range allMatchCases {
		for _, tc := range cases {
			t.Run(group+"/"+tc.name, func(t *testing.T) {
				p, err := Compile([]byte(tc.pattern))
				if err != nil {
					t.Fatalf("Compile(%s): %v", tc.pattern, err)
				}
				got, err := p.Match([]byte(tc.event))
				if err != nil {
					t.Fatalf("Match: %v", err)
				}
				if got != tc.want {
					t.Errorf("Match(%s, %s) = %v, want %v", tc.pattern, tc.event, got, tc.want)
				}

				d := json.NewDecoder(bytes.NewReader([]byte(tc.event)))
				d.UseNumber()
				var m map[string]any
				if err := d.Decode(&m); err != nil {
					t.Fatalf("decoding event: %v", err)
				}
				if got := p.MatchValue(m); got != tc.want {
					t.Errorf("MatchValue = %v, want %v", got, tc.want)
				}

				var s Set
				s.Add("r", p)
				names, err := s.Matches([]byte(tc.event))
				if err != nil {
					t.Fatalf("Set.Matches: %v", err)
				}
				if (len(names) == 1) != tc.want {
					t.Errorf("Set.Matches = %q, want match %v", names, tc.want)
				}
			})
		}
	}
}

func TestMatchValueFloat64(t *testing.T) {
	// encoding/json without UseNumber yields float64; 3.0e2 must still be 300.
	var m map[string]any
	if err := json.Unmarshal([]byte(`{"n":3.0e2,"f":0.1,"i":[1,2]}`), &m); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pattern string
		want    bool
	}{
		{`{"n":[300]}`, true},
		{`{"f":[0.1]}`, true},
		{`{"f":[{"numeric":[">",0.09,"<",0.11]}]}`, true},
		{`{"i":[2]}`, true},
		{`{"i":[3]}`, false},
	} {
		p := mustCompile(t, tc.pattern)
		if got := p.MatchValue(m); got != tc.want {
			t.Errorf("%s: MatchValue = %v, want %v", tc.pattern, got, tc.want)
		}
	}
}

func TestMatchValueGoTypes(t *testing.T) {
	p := mustCompile(t, `{"a":[7],"b":["x"],"c":{"d":["y"]},"e":[{"exists":false}],"f":[{"numeric":["<",0]}]}`)
	m := map[string]any{
		"a": int64(7),
		"b": []string{"w", "x"},
		"c": map[string]string{"d": "y"},
		"e": make(chan int), // unsupported: treated as absent
		"f": int8(-3),
	}
	if !p.MatchValue(m) {
		t.Error("MatchValue = false, want true")
	}
	m["a"] = uint(8)
	if p.MatchValue(m) {
		t.Error("MatchValue with a=8 = true, want false")
	}
}

func TestMatchInvalidEvent(t *testing.T) {
	p := mustCompile(t, `{}`)
	for _, ev := range []string{``, `[]`, `"s"`, `1`, `null`, `{`, `{"a":}`, `{"a":1}x`, `{"a":1,}`, `{'a':1}`} {
		ok, err := p.Match([]byte(ev))
		if err == nil || ok {
			t.Errorf("Match(%q) = %v, %v; want an error", ev, ok, err)
			continue
		}
		if !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("Match(%q) error %v does not wrap ErrInvalidEvent", ev, err)
		}
	}
	var s Set
	s.Add("r", p)
	if _, err := s.Matches([]byte(`[1]`)); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("Set.Matches([1]) error = %v, want ErrInvalidEvent", err)
	}
}

func TestPatternString(t *testing.T) {
	src := `{"source": ["aws.ec2"]}`
	if got := mustCompile(t, src).String(); got != src {
		t.Errorf("String() = %q, want %q", got, src)
	}
}

func mustCompile(t testing.TB, src string) *Pattern {
	t.Helper()
	p, err := Compile([]byte(src))
	if err != nil {
		t.Fatalf("Compile(%s): %v", src, err)
	}
	return p
}
