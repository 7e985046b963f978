#!/bin/bash

app1 /study/full
app2
app3

