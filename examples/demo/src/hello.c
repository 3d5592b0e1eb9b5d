#include <stdio.h>

int main(void)
{
    printf("Hello, sluice!\n");
    return 0;
}
