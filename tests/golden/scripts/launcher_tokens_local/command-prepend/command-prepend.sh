#!/bin/bash

echo "Test print #1"

