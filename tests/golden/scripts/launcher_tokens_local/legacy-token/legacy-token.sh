#!/bin/bash

echo "Test print #1"
echo "Test print #2"

