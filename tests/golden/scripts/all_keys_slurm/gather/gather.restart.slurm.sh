#!/bin/bash

echo again
