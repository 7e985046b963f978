#!/bin/bash

again

