package web

// ExampleResources gives the black-box tests the example resources by name.
var ExampleResources = exampleResources
